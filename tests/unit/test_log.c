/* test_log.c — the log: line format per level, debug filtering and its
 * switch, NULL log, one line per call (control bytes, threads), syslog mode
 * writing nothing to stderr. stderr is captured by pointing fd 2 at a
 * temporary file for the duration of each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct capture {
	int saved;
	int fd;
	char path[64];
	const char *text; /* what was written, once capture_end has run */
};

static char captured[1 << 20];

static void capture_start(struct capture *c)
{
	snprintf(c->path, sizeof(c->path), "/tmp/test_log.XXXXXX");
	c->fd = mkstemp(c->path);
	assert_true(c->fd >= 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* Restores stderr and leaves what was written in c->text. */
static const char *capture_end(struct capture *c)
{
	ssize_t n;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	assert_int_equal(lseek(c->fd, 0, SEEK_SET), 0);
	n = read(c->fd, captured, sizeof(captured) - 1);
	assert_true(n >= 0);
	captured[n] = '\0';
	c->text = captured;
	close(c->fd);
	unlink(c->path);
	return c->text;
}

static void test_levels(void **state)
{
	struct capture c;
	struct log *l = log_new("imgtagfs", false);

	(void)state;
	assert_non_null(l);
	capture_start(&c);
	log_msg(l, LOG_ERR, "cannot list %s: %s", "web/api", "permission denied");
	log_msg(l, LOG_WARNING, "skipping \"%s\"", "x");
	log_msg(l, LOG_NOTICE, "n");
	log_msg(l, LOG_INFO, "mounted");
	log_msg(l, LOG_CRIT, "c");
	/* A facility in prio does not change the level shown. */
	log_msg(l, LOG_DAEMON | LOG_ERR, "with facility");
	capture_end(&c);
	assert_string_equal(c.text, "imgtagfs: error: cannot list web/api: permission denied\n"
				    "imgtagfs: warning: skipping \"x\"\n"
				    "imgtagfs: notice: n\n"
				    "imgtagfs: info: mounted\n"
				    "imgtagfs: critical: c\n"
				    "imgtagfs: error: with facility\n");
	log_free(l);
}

/* What the server says, made safe for a terminal: controls, C1 and bytes
 * that are not UTF-8 as \xNN; UTF-8 text kept; cut only between characters. */
static void test_escape(void **state)
{
	static const char hostile[] = "a\x1b[2J\x1b]0;t\x07\r\n\x7f \xe6\x97\xa0\xc2\x9b\xff\xc3";
	char out[128], tiny[6];

	(void)state;
	assert_string_equal(log_escape(hostile, sizeof(hostile) - 1, out, sizeof(out)),
			    "a\\x1b[2J\\x1b]0;t\\x07\\x0d\\x0a\\x7f \xe6\x97\xa0\\xc2\\x9b\\xff\\xc3");
	assert_string_equal(log_escape("plain", 5, out, sizeof(out)), "plain");
	assert_string_equal(log_escape("ab\x1b", 3, tiny, sizeof(tiny)), "ab");			 /* no half escape */
	assert_string_equal(log_escape("a\xe6\x97\xa0", 4, tiny, 4), "a");			 /* no half character */
	assert_string_equal(log_escape("\xed\xa0\x80", 3, out, sizeof(out)), "\\xed\\xa0\\x80"); /* surrogate */
	assert_string_equal(log_escape("\xc0\xaf", 2, out, sizeof(out)), "\\xc0\\xaf");		 /* overlong '/' */
	/* Bidirectional controls and the separators are escaped too. */
	assert_string_equal(log_escape("a\xe2\x80\xae"
				       "b\xe2\x80\xa8",
				       8, out, sizeof(out)),
			    "a\\xe2\\x80\\xaeb\\xe2\\x80\\xa8");
}

static void test_debug_filter(void **state)
{
	struct capture c;
	struct log *l = log_new(NULL, false);

	(void)state;
	assert_non_null(l);
	assert_false(log_debug_enabled(l));
	capture_start(&c);
	log_msg(l, LOG_DEBUG, "hidden %d", 1);
	log_set_debug(l, true);
	log_msg(l, LOG_DEBUG, "shown %d", 2);
	log_set_debug(l, false);
	log_msg(l, LOG_DEBUG, "hidden %d", 3);
	log_msg(l, LOG_INFO, "info");
	capture_end(&c);
	assert_string_equal(c.text, "imgtagfs: debug: shown 2\nimgtagfs: info: info\n");
	assert_false(log_debug_enabled(l));
	log_set_debug(l, true);
	assert_true(log_debug_enabled(l));
	log_free(l);

	l = log_new("other", true);
	assert_non_null(l);
	assert_true(log_debug_enabled(l));
	capture_start(&c);
	log_msg(l, LOG_DEBUG, "api GetRepo -> 0, 12 ms");
	capture_end(&c);
	assert_string_equal(c.text, "other: debug: api GetRepo -> 0, 12 ms\n");
	log_free(l);
}

static void test_null_log(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	log_msg(NULL, LOG_ERR, "dropped %s", "x");
	log_set_debug(NULL, true);
	log_use_syslog(NULL, true);
	log_free(NULL);
	capture_end(&c);
	assert_string_equal(c.text, "");
	assert_false(log_debug_enabled(NULL));
}

/* A name from the server with a newline cannot forge a second line; the
 * line is escaped as a whole, whatever the caller passed. */
static void test_one_line(void **state)
{
	struct capture c;
	struct log *l = log_new("imgtagfs", false);
	char big[5000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_start(&c);
	log_msg(l, LOG_WARNING, "bad name \"%s\"", "x\nimgtagfs: error: forged\x1b[2J");
	log_msg(l, LOG_ERR, "from libfuse\n");
	log_msg(l, LOG_INFO, "%s", big);
	capture_end(&c);
	assert_non_null(strstr(c.text, "imgtagfs: warning: bad name \"x\\x0aimgtagfs: error: forged\\x1b[2J\"\n"
				       "imgtagfs: error: from libfuse\n"
				       "imgtagfs: info: aaaa"));
	/* The long one is cut, still one line, still ending in a newline. */
	assert_int_equal(strlen(strstr(c.text, "imgtagfs: info: ")), strlen("imgtagfs: info: ") + 2047 + 1);
	assert_int_equal(c.text[strlen(c.text) - 1], '\n');
	log_free(l);
}

/* Every line is escaped where it is written, so a caller that forgot to
 * escape a server's string (a name in a debug line, libfuse's -d trace)
 * still writes no raw C1 control, bidirectional control or stray byte;
 * valid UTF-8 stays readable. */
static void test_escaped_at_the_sink(void **state)
{
	struct capture c;
	struct log *l = log_new("imgtagfs", true);

	(void)state;
	capture_start(&c);
	log_msg(l, LOG_DEBUG, "api GetImageTag RepoName=%s ImageName=%s",
		"x\xc2\x9b"
		"31mRED",
		"a\xe2\x80\xae"
		"gpj.exe");
	log_msg(l, LOG_WARNING, "tag %s \xff\xc3 caf\xc3\xa9", "\xe2\x81\xa6");
	capture_end(&c);
	assert_string_equal(c.text, "imgtagfs: debug: api GetImageTag RepoName=x\\xc2\\x9b31mRED "
				    "ImageName=a\\xe2\\x80\\xaegpj.exe\n"
				    "imgtagfs: warning: tag \\xe2\\x81\\xa6 \\xff\\xc3 caf\xc3\xa9\n");
	log_free(l);
}

static void vwrap(struct log *l, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void vwrap(struct log *l, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(l, prio, fmt, ap);
	va_end(ap);
}

/* Names shown to people (log lines, --check, mount errors) keep printable
 * ASCII and show every other byte as \xNN, cut to fit. */
static void test_printable(void **state)
{
	char out[64], tiny[8];

	(void)state;
	assert_string_equal(log_printable("web/api v1", out, sizeof(out)), "web/api v1");
	assert_string_equal(log_printable("a\n/etc", out, sizeof(out)), "a\\x0a/etc");
	/* Valid UTF-8 stays readable; a stray byte does not pass. */
	assert_string_equal(log_printable("\t\x1b[31m\x7f\xc3\xa9\xc3", out, sizeof(out)),
			    "\\x09\\x1b[31m\\x7f\xc3\xa9\\xc3");
	assert_string_equal(log_printable(NULL, out, sizeof(out)), "");
	/* Cut short, never mid-escape, always terminated. */
	assert_string_equal(log_printable("abcdefghij", tiny, sizeof(tiny)), "abcdefg");
	assert_string_equal(log_printable("\n\n", tiny, sizeof(tiny)), "\\x0a");
	assert_string_equal(log_printable("abc", tiny, 1), "");
}

static void test_vmsg(void **state)
{
	struct capture c;
	struct log *l = log_new("imgtagfs", false);

	(void)state;
	capture_start(&c);
	vwrap(l, LOG_ERR, "fuse: %s `%s'\n", "unknown option", "-o bogus");
	vwrap(l, LOG_DEBUG, "dropped");
	capture_end(&c);
	assert_string_equal(c.text, "imgtagfs: error: fuse: unknown option `-o bogus'\n");
	log_free(l);
}

/* In syslog mode nothing goes to stderr; back on stderr it does again. */
static void test_syslog_switch(void **state)
{
	struct capture c;
	struct log *l = log_new("imgtagfs-test", false);

	(void)state;
	capture_start(&c);
	log_use_syslog(l, true);
	log_use_syslog(l, true); /* twice is harmless */
	log_msg(l, LOG_INFO, "to syslog");
	log_use_syslog(l, false);
	log_msg(l, LOG_INFO, "to stderr");
	log_use_syslog(l, true);
	capture_end(&c);
	assert_string_equal(c.text, "imgtagfs-test: info: to stderr\n");
	log_free(l); /* closes syslog */
}

#define THREADS 8
#define PER_THREAD 500

static void *writer(void *arg)
{
	struct log *l = arg;

	for (int i = 0; i < PER_THREAD; i++)
		log_msg(l, LOG_INFO, "thread line %03d %s", i, "0123456789012345678901234567890123456789");
	return NULL;
}

/* Lines from concurrent threads never interleave. */
static void test_threads(void **state)
{
	struct capture c;
	struct log *l = log_new("imgtagfs", false);
	pthread_t t[THREADS];
	const char *p;
	int lines = 0;

	(void)state;
	capture_start(&c);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, l), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	capture_end(&c);
	for (p = c.text; *p; lines++) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		assert_int_equal(nl - p, (long)strlen("imgtagfs: info: thread line 000 ") + 40);
		assert_memory_equal(p, "imgtagfs: info: thread line ", 28);
		p = nl + 1;
	}
	assert_int_equal(lines, THREADS * PER_THREAD);
	log_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_debug_filter),
	    cmocka_unit_test(test_null_log),
	    cmocka_unit_test(test_one_line),
	    cmocka_unit_test(test_escaped_at_the_sink),
	    cmocka_unit_test(test_vmsg),
	    cmocka_unit_test(test_printable),
	    cmocka_unit_test(test_syslog_switch),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
