/* test_tier_setup.c — the fleet tier's setup, as far as it runs without a
 * Redis server: no shared_cache= is no setup (NULL everywhere); the
 * secret files (shared_cache_key's: missing, readable by others, fewer
 * than 16 bytes once trailing whitespace is cut; shared_cache_auth's:
 * one or two words, else refused) give the -errno and message the header
 * promises, and no message quotes a secret; the MAC key derivation is
 * stable and differs per project and per secret; the namespace differs
 * per project; the mount-time check and --check's report against a
 * socket nobody listens on (connection refused: a warning and the mount
 * goes on; --check says so, prints the namespace and the ACL line, and
 * returns 1) and against a server that answers garbage.
 *
 * Not here: what needs a running redis-server (AUTH refused -> -EACCES, a
 * refused command -> -EPERM, "ok" in --check's report, the fleet's ACL
 * user at work, two mounts sharing values under one key). test_tier.c
 * and the integration tests cover those against a real server. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fresh.h"
#include "log.h"
#include "opts.h"
#include "redis_srv.h"
#include "tier.h"
#include "tier_setup.h"

#define PRIV "46f09bb9fab4f12dfc160dae12273d5332b5debe"
#define PUB "ucloudsomeone@example.com1296235120854146120"
#define KEY16 "0123456789abcdef"
#define SECRET "hunter2-very-secret"

struct fixture {
	char dir[64];
	char sock[128]; /* DIR/closed.sock: bound, then closed: refused */
	char url[160];	/* unix:SOCK */
	struct config cfg;
	struct tier_setup_src src;
	struct fresh *fresh;
	struct fake_srv garbage; /* stopped by the teardown, even after a failure */
	int64_t now;
	char err[512];
};

static int64_t fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

/* A unix socket at path that nobody listens on: a connect is refused. */
static void closed_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	assert_int_equal(redis_srv_tmpdir(x->dir, sizeof(x->dir)), 0);
	snprintf(x->sock, sizeof(x->sock), "%s/closed.sock", x->dir);
	closed_socket(x->sock);
	snprintf(x->url, sizeof(x->url), "unix:%s", x->sock);
	x->now = 1000000;
	x->cfg.shared_cache = x->url;
	x->cfg.repo_type = "private";
	x->cfg.shared_timeout = 2000;
	x->cfg.cache_size = 64u << 20;
	x->src = (struct tier_setup_src){
	    .cfg = &x->cfg, .project = "org-abc", .public_key = PUB, .private_key = PRIV, .endpoint = "http://api"};
	x->fresh = fresh_new(&(struct fresh_config){.ttl_ms = 60000, .clock = fake_clock, .clock_arg = x});
	assert_non_null(x->fresh);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	char cmd[128];

	fake_srv_stop(&x->garbage);
	fresh_free(x->fresh);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

/* Writes DIR/name with contents and mode; returns its path (static). */
static const char *secret_file(struct fixture *x, const char *name, const char *contents, mode_t mode)
{
	static char path[2][160];
	static int which;
	char *p = path[which++ % 2];
	int fd;

	snprintf(p, sizeof(path[0]), "%s/%s", x->dir, name);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, contents, strlen(contents)), (ssize_t)strlen(contents));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return p;
}

/* tier_setup_prepare's result; on an error, err was set and *out NULL. */
static int prepare(struct fixture *x, struct tier_setup **out)
{
	int rc;

	x->err[0] = '\0';
	*out = (struct tier_setup *)&rc; /* must be overwritten */
	rc = tier_setup_prepare(&x->src, out, x->err, sizeof(x->err));
	if (rc) {
		assert_null(*out);
		assert_true(x->err[0] != '\0');
		assert_null(strstr(x->err, SECRET));
		assert_null(strstr(x->err, PRIV));
	}
	return rc;
}

static void test_no_shared_cache(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;

	x->cfg.shared_cache = NULL;
	assert_int_equal(prepare(x, &ts), 0);
	assert_null(ts);
	assert_int_equal(tier_setup_build(NULL, &x->src, x->fresh, NULL), 0);
	assert_null(tier_setup_tier(NULL));
	assert_int_equal(tier_setup_check(NULL, "src", NULL, x->err, sizeof(x->err)), 0);
	assert_int_equal(tier_setup_report(NULL, x->url), 0);
	tier_setup_free(NULL);
}

static void test_key_from_private_key(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;

	assert_int_equal(prepare(x, &ts), 0);
	assert_non_null(ts);
	assert_null(tier_setup_tier(ts)); /* not built yet */
	tier_setup_free(ts);
}

static void test_key_file_missing(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;
	char path[160];

	snprintf(path, sizeof(path), "%s/no-such-key", x->dir);
	x->cfg.shared_key = path;
	assert_int_equal(prepare(x, &ts), -ENOENT);
	assert_non_null(strstr(x->err, "shared_cache_key"));
	assert_non_null(strstr(x->err, path));
}

static void test_key_file_readable_by_others(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;

	x->cfg.shared_key = (char *)secret_file(x, "key", SECRET "-and-long-enough", 0644);
	assert_int_equal(prepare(x, &ts), -EACCES);
	assert_non_null(strstr(x->err, "shared_cache_key"));
	assert_non_null(strstr(x->err, x->cfg.shared_key));
	assert_non_null(strstr(x->err, "readable by group or others (mode 0644)"));
	assert_non_null(strstr(x->err, "chmod 600"));

	x->cfg.shared_key = (char *)secret_file(x, "key", SECRET "-and-long-enough", 0620);
	assert_int_equal(prepare(x, &ts), -EACCES);
	assert_non_null(strstr(x->err, "writable by group or others (mode 0620)"));
}

static void test_key_file_too_short(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;

	/* 15 bytes, and whitespace after them that does not count */
	x->cfg.shared_key = (char *)secret_file(x, "key", "0123456789abcde \t\r\n\n", 0600);
	assert_int_equal(prepare(x, &ts), -EINVAL);
	assert_non_null(strstr(x->err, "shared_cache_key="));
	assert_non_null(strstr(x->err, x->cfg.shared_key));
	assert_non_null(strstr(x->err, "fewer than 16 bytes"));
	assert_null(strstr(x->err, "0123456789abcde"));

	x->cfg.shared_key = (char *)secret_file(x, "key", "", 0600);
	assert_int_equal(prepare(x, &ts), -EINVAL);
	assert_non_null(strstr(x->err, "fewer than 16 bytes"));

	/* 16 bytes are enough, with or without a newline */
	x->cfg.shared_key = (char *)secret_file(x, "key", KEY16, 0600);
	assert_int_equal(prepare(x, &ts), 0);
	assert_non_null(ts);
	tier_setup_free(ts);
	x->cfg.shared_key = (char *)secret_file(x, "key", KEY16 "\n", 0600);
	assert_int_equal(prepare(x, &ts), 0);
	tier_setup_free(ts);
}

static void test_auth_file(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;
	static const char *const good[] = {SECRET, (SECRET "\n"), ("  fleet " SECRET "\r\n"), ("fleet\t" SECRET)};
	static const char *const bad[] = {"", " \n\t", ("fleet " SECRET " extra"), "a b c d"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		x->cfg.shared_auth = (char *)secret_file(x, "auth", good[i], 0600);
		assert_int_equal(prepare(x, &ts), 0);
		tier_setup_free(ts);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x->cfg.shared_auth = (char *)secret_file(x, "auth", bad[i], 0600);
		assert_int_equal(prepare(x, &ts), -EINVAL);
		assert_non_null(strstr(x->err, "shared_cache_auth="));
		assert_non_null(strstr(x->err, x->cfg.shared_auth));
		assert_non_null(strstr(x->err, "expected one line: PASSWORD, or USER PASSWORD"));
	}
	x->cfg.shared_auth = (char *)secret_file(x, "auth", SECRET, 0640);
	assert_int_equal(prepare(x, &ts), -EACCES);
	assert_non_null(strstr(x->err, "shared_cache_auth file"));
	assert_non_null(strstr(x->err, "(mode 0640)"));
	x->cfg.shared_auth = "/nonexistent/imgtagfs-auth";
	assert_int_equal(prepare(x, &ts), -ENOENT);
	assert_non_null(strstr(x->err, "/nonexistent/imgtagfs-auth"));
}

/* A broken auth file is reported before the key file is read. */
static void test_auth_before_key(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;

	x->cfg.shared_auth = (char *)secret_file(x, "auth", "a b c", 0600);
	x->cfg.shared_key = "/nonexistent/imgtagfs-key";
	assert_int_equal(prepare(x, &ts), -EINVAL);
	assert_non_null(strstr(x->err, "shared_cache_auth="));
}

/* The derivation tier_setup_prepare makes, from the private key or the
 * key file's bytes (trailing whitespace cut) and the project: the same
 * inputs give the same key, another project or secret another. */
static void test_key_derivation(void **state)
{
	unsigned char a[SVAL_KEY_LEN], b[SVAL_KEY_LEN], c[SVAL_KEY_LEN], d[SVAL_KEY_LEN], e[SVAL_KEY_LEN];

	(void)state;
	assert_int_equal(tier_derive_key(KEY16, 16, "org-abc", a), 0);
	assert_int_equal(tier_derive_key(KEY16, 16, "org-abc", b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(tier_derive_key(KEY16, 16, "org-xyz", c), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	assert_int_equal(tier_derive_key("0123456789abcdeF", 16, "org-abc", d), 0);
	assert_memory_not_equal(a, d, sizeof(a));
	assert_int_equal(tier_derive_key(PRIV, strlen(PRIV), "org-abc", e), 0);
	assert_memory_not_equal(a, e, sizeof(a));
	/* the key is not the secret itself */
	assert_memory_not_equal(a, KEY16, 16);
}

/* Sends what is written to fd (stdout or stderr) from now on into a
 * temporary file; capture_end puts fd back and gives the text. */
struct capture {
	int fd, saved;
	FILE *f;
};

static void capture_begin(struct capture *c, int fd)
{
	c->fd = fd;
	c->f = tmpfile();
	assert_non_null(c->f);
	fflush(stdout);
	fflush(stderr);
	c->saved = dup(fd);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), fd) >= 0);
}

static void capture_end(struct capture *c, char *out, size_t n)
{
	size_t got;

	fflush(stdout);
	fflush(stderr);
	assert_true(dup2(c->saved, c->fd) >= 0);
	close(c->saved);
	rewind(c->f);
	got = fread(out, 1, n - 1, c->f);
	out[got] = '\0';
	fclose(c->f);
}

/* Runs tier_setup_report with stdout into out. */
static int report(struct tier_setup *ts, const char *url, char *out, size_t n)
{
	struct capture c;
	int rc;

	capture_begin(&c, STDOUT_FILENO);
	rc = tier_setup_report(ts, url);
	capture_end(&c, out, n);
	return rc;
}

/* A line of text starting with prefix; its rest into rest. */
static void line_of(const char *text, const char *prefix, char *rest, size_t n)
{
	const char *p = strstr(text, prefix);
	size_t len;

	assert_non_null(p);
	p += strlen(prefix);
	len = strcspn(p, "\n");
	assert_true(len < n);
	memcpy(rest, p, len);
	rest[len] = '\0';
}

static struct tier_setup *built(struct fixture *x, struct log *log)
{
	struct tier_setup *ts;

	assert_int_equal(prepare(x, &ts), 0);
	assert_int_equal(tier_setup_build(ts, &x->src, x->fresh, log), 0);
	assert_non_null(tier_setup_tier(ts));
	return ts;
}

/* Nobody listens on the socket: the mount goes on, with a warning in
 * the log and no error. */
static void test_check_refused(void **state)
{
	struct fixture *x = *state;
	struct log *log = log_new("t", false);
	struct tier_setup *ts = built(x, log);
	struct capture c;
	char out[4096];

	x->err[0] = '\0';
	capture_begin(&c, STDERR_FILENO);
	assert_int_equal(tier_setup_check(ts, "uhub", log, x->err, sizeof(x->err)), 0);
	capture_end(&c, out, sizeof(out));
	assert_string_equal(x->err, "");
	assert_string_equal(out, "t: warning: shared cache unreachable at mount (Connection refused): mounting "
				 "without it until it answers\n");
	tier_setup_free(ts);
	log_free(log);
}

static void test_report_refused(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;
	char out[4096], line[1024], ns[256], want[1024];

	x->cfg.shared_auth = (char *)secret_file(x, "auth", SECRET, 0600);
	ts = built(x, NULL);
	assert_int_equal(report(ts, x->url, out, sizeof(out)), 1);
	line_of(out, "shared cache: ", line, sizeof(line));
	snprintf(want, sizeof(want), "unix:%s: Connection refused (", x->sock);
	assert_memory_equal(line, want, strlen(want));
	assert_non_null(strstr(line, " ms)"));
	line_of(out, "namespace:   ", ns, sizeof(ns));
	assert_true(strlen(ns) > 0);
	/* without a user in the auth file, the ACL line names one after the
	 * namespace, scoped to the namespace's keys */
	line_of(out, "redis ACL:   ", line, sizeof(line));
	snprintf(want, sizeof(want), "user imgtagfs-%s on >PASSWORD resetkeys ~imgtagfs:1:%s:* ", ns, ns);
	assert_memory_equal(line, want, strlen(want));
	assert_null(strstr(out, SECRET));
	assert_null(strstr(out, PRIV));
	tier_setup_free(ts);
}

/* A user in the auth file is the ACL line's user. */
static void test_report_user(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;
	char out[4096], line[1024];

	x->cfg.shared_auth = (char *)secret_file(x, "auth", "fleet-7 " SECRET "\n", 0600);
	ts = built(x, NULL);
	assert_int_equal(report(ts, x->url, out, sizeof(out)), 1);
	line_of(out, "redis ACL:   ", line, sizeof(line));
	assert_memory_equal(line, "user fleet-7 on >PASSWORD ", strlen("user fleet-7 on >PASSWORD "));
	assert_non_null(strstr(out, "as \"fleet-7 PASSWORD\""));
	assert_null(strstr(out, SECRET));
	tier_setup_free(ts);
}

/* The namespace is stable for one project and differs for another. */
static void test_namespace_per_project(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;
	char out[4096], ns1[256], ns2[256], ns3[256];

	ts = built(x, NULL);
	assert_int_equal(report(ts, x->url, out, sizeof(out)), 1);
	tier_setup_free(ts);
	line_of(out, "namespace:   ", ns1, sizeof(ns1));
	ts = built(x, NULL);
	assert_int_equal(report(ts, x->url, out, sizeof(out)), 1);
	tier_setup_free(ts);
	line_of(out, "namespace:   ", ns2, sizeof(ns2));
	assert_string_equal(ns1, ns2);
	x->src.project = "org-xyz";
	ts = built(x, NULL);
	assert_int_equal(report(ts, x->url, out, sizeof(out)), 1);
	tier_setup_free(ts);
	line_of(out, "namespace:   ", ns3, sizeof(ns3));
	assert_string_not_equal(ns1, ns3);
}

/* A server that answers garbage is no Redis: the mount goes on (the tier
 * is marked down until it answers), --check says so and returns 1. */
static void test_garbage_server(void **state)
{
	struct fixture *x = *state;
	struct tier_setup *ts;
	char out[4096], url[160];

	assert_int_equal(fake_srv_garbage(&x->garbage, "HTTP/1.1 400 Bad Request\r\n\r\n"), 0);
	snprintf(url, sizeof(url), "unix:%s", x->garbage.sock);
	x->cfg.shared_cache = url;
	ts = built(x, NULL);
	assert_int_equal(tier_setup_check(ts, "uhub", NULL, x->err, sizeof(x->err)), 0);
	assert_int_equal(report(ts, url, out, sizeof(out)), 1);
	assert_null(strstr(out, ": ok ("));
	tier_setup_free(ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_shared_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_from_private_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_file_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_file_readable_by_others, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_file_too_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_before_key, setup, teardown),
	    cmocka_unit_test(test_key_derivation),
	    cmocka_unit_test_setup_teardown(test_check_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_namespace_per_project, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_server, setup, teardown),
	};
	return cmocka_run_group_tests_name("tier_setup", tests, NULL, NULL);
}
