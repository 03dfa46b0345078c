/* test_sim_opts.c — uhub-sim's command line: values, defaults, key
 * splitting, the keys file, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sim/sim_opts.h"

/* Parses a NULL-terminated list of arguments (after the program name). */
static int parse(struct sim_opts *o, char *err, size_t n, ...)
{
	char *argv[64] = {"uhub-sim"};
	int argc = 1, rc;
	va_list ap;

	va_start(ap, n);
	while ((argv[argc] = va_arg(ap, char *)))
		assert_true(++argc < 64);
	va_end(ap);
	rc = sim_opts_parse(argc, argv, o, err, n);
	return rc;
}

static void test_defaults(void **state)
{
	struct sim_opts o;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
	assert_int_equal(o.port, 0);
	assert_string_equal(o.bind, "127.0.0.1");
	assert_int_equal(params_count(o.keys), 1);
	assert_string_equal(params_get(o.keys, SIM_TEST_PUBLIC_KEY), SIM_TEST_PRIVATE_KEY);
	assert_string_equal(params_name(o.projects, 0), "org-demo");
	assert_null(o.data);
	assert_true(o.gen.repos == 2 && o.gen.images == 5 && o.gen.tags == 10);
	assert_int_equal(o.time_style, SIM_TIME_PLAIN);
	assert_true(o.max_limit == 0 && o.latency_ms == 0 && o.rps == 0 && o.nfaults == 0);
	sim_opts_release(&o);
}

static void test_values(void **state)
{
	struct sim_opts o;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--port", "8080", "--bind", "::1", "--key", "a@b.c:x:y:z", "--key",
			       "p:q", "--project", "org-1", "--project", "org-2", "--gen",
			       "repos=1,images=2,tags=3,seed=4,nested=0", "--time-style", "rfc3339", "--max-limit",
			       "50", "--latency-ms", "20", "--jitter-ms", "5", "--rps", "100", "--fault", "drop:0.5",
			       "--fault", "hang#2@GetRepo", "--access-log", "-", "--seed", "9", "--max-connections",
			       "64", "--retcode-string", "--verbose", NULL),
			 0);
	assert_int_equal(o.port, 8080);
	assert_string_equal(o.bind, "::1");
	assert_int_equal(params_count(o.keys), 2);
	assert_string_equal(params_get(o.keys, "a@b.c"), "x:y:z"); /* split at the first ':' */
	assert_string_equal(params_get(o.keys, "p"), "q");
	assert_string_equal(params_name(o.projects, 0), "org-1");
	assert_string_equal(params_name(o.projects, 1), "org-2");
	assert_true(o.gen.repos == 1 && o.gen.images == 2 && o.gen.tags == 3 && o.gen.seed == 4 && o.gen.nested == 0);
	assert_int_equal(o.time_style, SIM_TIME_RFC3339);
	assert_true(o.max_limit == 50 && o.latency_ms == 20 && o.jitter_ms == 5 && o.rps == 100);
	assert_int_equal(o.nfaults, 2);
	assert_true(o.faults[0].kind == SIM_FAULT_DROP && o.faults[0].rate == 0.5);
	assert_true(o.faults[1].kind == SIM_FAULT_HANG && o.faults[1].count == 2);
	assert_string_equal(o.faults[1].action, "GetRepo");
	assert_string_equal(o.access_log, "-");
	assert_true(o.seed == 9 && o.max_connections == 64 && o.retcode_string && o.verbose);
	sim_opts_release(&o);
	assert_int_equal(parse(&o, err, sizeof(err), "--data", "x.json", "--help", "--version", NULL), 0);
	assert_string_equal(o.data, "x.json");
	assert_true(o.help && o.version);
	sim_opts_release(&o);
}

static void expect_refused(const char *a, const char *b, const char *message)
{
	struct sim_opts o;
	char err[256] = "";

	assert_int_equal(parse(&o, err, sizeof(err), a, b, NULL), -EINVAL);
	if (!strstr(err, message))
		fail_msg("[%s %s]: error [%s] lacks [%s]", a, b ? b : "", err, message);
	sim_opts_release(&o);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused("--port", "65536", "bad --port");
	expect_refused("--port", "80x", "bad --port");
	expect_refused("--port", "-1", "bad --port");
	expect_refused("--latency-ms", "", "bad --latency-ms");
	expect_refused("--max-limit", "2147483648", "bad --max-limit");
	expect_refused("--gen", "repos=a", "bad --gen");
	expect_refused("--gen", "repos=100000,images=100000", "too large");
	expect_refused("--time-style", "iso", "bad --time-style");
	expect_refused("--fault", "boom", "bad --fault");
	expect_refused("--key", "nocolon", "PUBLIC:PRIVATE");
	expect_refused("--key", ":priv", "PUBLIC:PRIVATE");
	expect_refused("--key", "pub:", "PUBLIC:PRIVATE");
	expect_refused("--project", "", "bad --project");
	expect_refused("--nope", NULL, "unknown option");
	expect_refused("--port", NULL, "missing argument");
	expect_refused("stray", NULL, "unexpected argument: stray");
	{
		struct sim_opts o;
		char err[256] = "";

		assert_int_equal(parse(&o, err, sizeof(err), "--data", "f", "--gen", "repos=1", NULL), -EINVAL);
		assert_non_null(strstr(err, "exclude"));
		sim_opts_release(&o);
	}
}

static void test_private_key_never_in_errors(void **state)
{
	struct sim_opts o;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--key", "secretpub-only-no-colon-SECRET", NULL), -EINVAL);
	assert_null(strstr(err, "SECRET"));
	sim_opts_release(&o);
}

static void test_keys_file(void **state)
{
	char path[] = "/tmp/test_sim_opts.XXXXXX", err[256] = "";
	const char text[] = "# comment\n  a@example.com:secret-a  \r\n\nb:secret:b\n";
	int fd = mkstemp(path);
	struct sim_opts o;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(parse(&o, err, sizeof(err), "--keys-file", path, NULL), 0);
	assert_int_equal(params_count(o.keys), 2);
	assert_string_equal(params_get(o.keys, "a@example.com"), "secret-a");
	assert_string_equal(params_get(o.keys, "b"), "secret:b");
	sim_opts_release(&o);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "junk-without-colon-SECRET\n", 26), 26);
	close(fd);
	assert_int_equal(parse(&o, err, sizeof(err), "--keys-file", path, NULL), -EINVAL);
	assert_non_null(strstr(err, ":5: a key must be PUBLIC:PRIVATE"));
	assert_null(strstr(err, "SECRET"));
	sim_opts_release(&o);
	unlink(path);
	assert_int_equal(parse(&o, err, sizeof(err), "--keys-file", path, NULL), -ENOENT);
	sim_opts_release(&o);
}

static void test_usage_documents_everything(void **state)
{
	static const char *const want[] = {"--port",	  "--bind",   "--key",	      "--keys-file",	"--project",
					   "--data",	  "--gen",    "--time-style", "--max-limit",	"--latency-ms",
					   "--jitter-ms", "--rps",    "--fault",      "--access-log",	"--help",
					   "--version",	  "--sign",   "\"generate\"", "/_sim/count",	"shuffle",
					   "oversized",	  "liecount", "truncate",     "retcode-string", "escmsg",
					   "dense",	  "trickle",  "late_total",   "pad_bytes",	NULL};
	char buf[16384] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	(void)state;
	sim_opts_usage(f);
	fclose(f);
	for (size_t i = 0; want[i]; i++)
		if (!strstr(buf, want[i]))
			fail_msg("--help lacks %s", want[i]);
	assert_null(strstr(buf, SIM_TEST_PRIVATE_KEY));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),  cmocka_unit_test(test_values),
	    cmocka_unit_test(test_refusals),  cmocka_unit_test(test_private_key_never_in_errors),
	    cmocka_unit_test(test_keys_file), cmocka_unit_test(test_usage_documents_everything),
	};

	return cmocka_run_group_tests_name("sim_opts", tests, NULL, NULL);
}
