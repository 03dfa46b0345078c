/* test_decode.c — API replies and the vendor's files, well and badly formed.
 *
 * Every document is copied into a buffer of exactly its length (no NUL), so
 * a decoder that read past len would be caught by ASan/valgrind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "decode.h"

static int dec(const char *json, enum decode_list kind, struct decode_reply *r)
{
	size_t n = strlen(json);
	char *copy = malloc(n ? n : 1);
	int err;

	assert_non_null(copy);
	memcpy(copy, json, n);
	err = decode_reply(copy, n, kind, r);
	free(copy);
	return err;
}

/* Decodes and expects an error, with out left empty. */
static void dec_bad(const char *json, enum decode_list kind, int want)
{
	struct decode_reply r;

	assert_int_equal(dec(json, kind, &r), want);
	assert_int_equal(r.n, 0);
	assert_null(r.items);
	assert_null(r.message);
	decode_reply_release(&r);
}

static void test_tags(void **state)
{
	struct decode_reply r;

	(void)state;
	assert_int_equal(dec("{\"Action\":\"GetImageTagResponse\",\"RetCode\":0,\"TotalCount\":3,\"TagSet\":["
			     "{\"TagName\":\"v1\",\"UpdateTime\":\"2026-11-27 10:15:00\",\"Digest\":\"sha256:ab\"},"
			     "{\"TagName\":\"latest\",\"UpdateTime\":1795745700,\"Digest\":\"\"},"
			     "{\"TagName\":\"v2\"}]}",
			     DECODE_TAGS, &r),
			 0);
	assert_int_equal(r.retcode, 0);
	assert_null(r.message);
	assert_int_equal(r.total, 3);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.skipped, 0);
	assert_string_equal(r.items[0].name, "v1");
	assert_string_equal(r.items[0].time, "2026-11-27 10:15:00");
	assert_string_equal(r.items[0].digest, "sha256:ab");
	assert_string_equal(r.items[1].name, "latest");
	assert_string_equal(r.items[1].time, "1795745700");
	assert_null(r.items[1].digest); /* empty = absent */
	assert_string_equal(r.items[2].name, "v2");
	assert_null(r.items[2].time);
	assert_null(r.items[2].digest);
	decode_reply_release(&r);
	assert_null(r.items);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.total, -1);
	decode_reply_release(&r); /* twice is harmless */
}

static void test_repos_images(void **state)
{
	struct decode_reply r;

	(void)state;
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":2,\"RepoSet\":[{\"RepoName\":\"a\",\"IsShared\":\"false\","
			     "\"UpdateTime\":\"x\",\"Digest\":\"sha256:no\"},{\"RepoName\":\"b\"}]}",
			     DECODE_REPOS, &r),
			 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.items[0].name, "a");
	assert_string_equal(r.items[0].time, "x");
	assert_null(r.items[0].digest); /* only tags carry digests */
	decode_reply_release(&r);

	/* The wrong list for the kind is a missing list. */
	dec_bad("{\"RetCode\":0,\"TotalCount\":2,\"RepoSet\":[{\"RepoName\":\"a\"}]}", DECODE_IMAGES, -EBADMSG);
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":1,\"ImageSet\":[{\"RepoName\":\"r\",\"ImageName\":"
			     "\"team/app\",\"LatestTag\":\"v1\",\"PullCount\":3}]}",
			     DECODE_IMAGES, &r),
			 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.items[0].name, "team/app");
	decode_reply_release(&r);

	assert_int_equal(dec("{\"RetCode\":0,\"Action\":\"X\"}", DECODE_NONE, &r), 0);
	assert_int_equal(r.total, -1);
	assert_null(r.items);
	decode_reply_release(&r);
}

static void test_retcode_forms(void **state)
{
	struct decode_reply r;

	(void)state;
	assert_int_equal(dec("{\"RetCode\":171,\"Message\":\"Signature VerifyAC Error\"}", DECODE_TAGS, &r), 0);
	assert_int_equal(r.retcode, 171);
	assert_string_equal(r.message, "Signature VerifyAC Error");
	assert_null(r.items);
	decode_reply_release(&r);

	assert_int_equal(dec("{\"RetCode\":\"171\",\"Message\":\"x\",\"TagSet\":\"junk\"}", DECODE_TAGS, &r), 0);
	assert_int_equal(r.retcode, 171);
	decode_reply_release(&r);

	assert_int_equal(
	    dec("{\"RetCode\":\"0\",\"TotalCount\":\"1\",\"TagSet\":[{\"TagName\":\"t\"}]}", DECODE_TAGS, &r), 0);
	assert_int_equal(r.retcode, 0);
	assert_int_equal(r.total, 1);
	assert_int_equal(r.n, 1);
	decode_reply_release(&r);

	assert_int_equal(dec("{\"RetCode\":-1}", DECODE_NONE, &r), 0);
	assert_int_equal(r.retcode, -1);
	decode_reply_release(&r);
	assert_int_equal(dec("{\"RetCode\":2.0e3}", DECODE_NONE, &r), 0);
	assert_int_equal(r.retcode, 2000);
	decode_reply_release(&r);

	dec_bad("{\"Action\":\"GetImageTagResponse\"}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":null}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":true}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":\"\"}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":\"17x\"}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":\" 171\"}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":\"0x10\"}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":1.5}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":[0]}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"retcode\":0}", DECODE_TAGS, -EBADMSG);
}

static void test_bad_json(void **state)
{
	struct decode_reply r;

	(void)state;
	dec_bad("", DECODE_TAGS, -EBADMSG);
	dec_bad("   ", DECODE_TAGS, -EBADMSG);
	dec_bad("not json", DECODE_TAGS, -EBADMSG);
	dec_bad("<html><body>502 Bad Gateway</body></html>", DECODE_TAGS, -EBADMSG);
	dec_bad("null", DECODE_TAGS, -EBADMSG);
	dec_bad("0", DECODE_TAGS, -EBADMSG);
	dec_bad("\"RetCode\"", DECODE_TAGS, -EBADMSG);
	dec_bad("[{\"RetCode\":0}]", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,}", DECODE_NONE, -EBADMSG);
	dec_bad("{\"RetCode\":0} {\"RetCode\":1}", DECODE_NONE, -EBADMSG);
	dec_bad("{\"RetCode\":0}x", DECODE_NONE, -EBADMSG);
	assert_int_equal(dec(" \r\n{\"RetCode\":0}\n\t ", DECODE_NONE, &r), 0);
	decode_reply_release(&r);
	assert_int_equal(decode_reply(NULL, 0, DECODE_NONE, &r), -EBADMSG);
	assert_int_equal(decode_reply("{\"RetCode\":0}", 13, (enum decode_list)42, &r), -EINVAL);
	/* A NUL inside the length is not the end of the document. */
	assert_int_equal(decode_reply("{\"RetCode\":0}\0junk", 18, DECODE_NONE, &r), -EBADMSG);
	/* len shorter than the string: only len bytes count. */
	assert_int_equal(decode_reply("{\"RetCode\":0}{", 13, DECODE_NONE, &r), 0);
	decode_reply_release(&r);
}

/* Every proper prefix of a valid reply is rejected. */
static void test_truncated(void **state)
{
	const char *doc = "{\"RetCode\":0,\"TotalCount\":2,\"Message\":\"ok \\u00e9\",\"TagSet\":["
			  "{\"TagName\":\"v1\",\"UpdateTime\":1795745700,\"Digest\":\"sha256:ab\"},"
			  "{\"TagName\":\"v2\",\"UpdateTime\":\"2026-11-27T02:15:00Z\"}]}";
	size_t n = strlen(doc);
	struct decode_reply r;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char *copy = malloc(i ? i : 1);

		assert_non_null(copy);
		memcpy(copy, doc, i);
		assert_int_equal(decode_reply(copy, i, DECODE_TAGS, &r), -EBADMSG);
		assert_null(r.items);
		free(copy);
	}
	assert_int_equal(dec(doc, DECODE_TAGS, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.message, "ok \xc3\xa9");
	decode_reply_release(&r);
}

static void test_numbers(void **state)
{
	struct decode_reply r;

	(void)state;
	dec_bad("{\"RetCode\":1e300}", DECODE_NONE, -EBADMSG);
	dec_bad("{\"RetCode\":-1e300}", DECODE_NONE, -EBADMSG);
	dec_bad("{\"RetCode\":99999999999}", DECODE_NONE, -EBADMSG);
	dec_bad("{\"RetCode\":\"99999999999999999999999\"}", DECODE_NONE, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":-1,\"TagSet\":[]}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":\"-3\",\"TagSet\":[]}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":1.5,\"TagSet\":[]}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":1e300,\"TagSet\":[]}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":\"many\",\"TagSet\":[]}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":{},\"TagSet\":[]}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":\"18446744073709551617\",\"TagSet\":[]}", DECODE_TAGS, -EBADMSG);
	/* TotalCount null is absent. */
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":null,\"TagSet\":[]}", DECODE_TAGS, &r), 0);
	assert_int_equal(r.total, -1);
	decode_reply_release(&r);

	/* UpdateTime numbers: integers as integers, others in full. */
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":4,\"TagSet\":["
			     "{\"TagName\":\"a\",\"UpdateTime\":1795745700123},"
			     "{\"TagName\":\"b\",\"UpdateTime\":1795745700.5},"
			     "{\"TagName\":\"c\",\"UpdateTime\":1e300},"
			     "{\"TagName\":\"d\",\"UpdateTime\":-5},"
			     "{\"TagName\":\"e\",\"UpdateTime\":true}]}",
			     DECODE_TAGS, &r),
			 0);
	assert_int_equal(r.n, 5);
	assert_string_equal(r.items[0].time, "1795745700123");
	assert_string_equal(r.items[1].time, "1795745700.5");
	assert_non_null(strstr(r.items[2].time, "e+300"));
	assert_string_equal(r.items[3].time, "-5");
	assert_null(r.items[4].time);
	decode_reply_release(&r);
}

static void test_nested_garbage(void **state)
{
	struct decode_reply r;
	struct buf deep;

	(void)state;
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":9,\"TagSet\":["
			     "[],1,null,\"v0\",{},{\"TagName\":null},{\"TagName\":7},{\"TagName\":{\"TagName\":\"x\"}},"
			     "{\"TagName\":\"\"},{\"TagName\":[\"v9\"]},{\"tagname\":\"v10\"},"
			     "{\"TagName\":\"ok\",\"UpdateTime\":{\"a\":[1,2,{}]},\"Digest\":[1]}]}",
			     DECODE_TAGS, &r),
			 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.skipped, 11);
	assert_string_equal(r.items[0].name, "ok");
	assert_null(r.items[0].time);
	assert_null(r.items[0].digest);
	decode_reply_release(&r);

	dec_bad("{\"RetCode\":0,\"TotalCount\":1,\"TagSet\":{\"TagName\":\"v1\"}}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":1,\"TagSet\":\"v1\"}", DECODE_TAGS, -EBADMSG);

	/* Nesting deeper than cJSON's limit is refused, not a stack overflow. */
	buf_init(&deep, 1 << 20);
	assert_int_equal(buf_adds(&deep, "{\"RetCode\":0,\"x\":"), 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_adds(&deep, "["), 0);
	dec_bad(deep.data, DECODE_NONE, -EBADMSG);
	buf_release(&deep);
}

static void test_missing_list(void **state)
{
	struct decode_reply r;

	(void)state;
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":0}", DECODE_TAGS, &r), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.total, 0);
	decode_reply_release(&r);
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":\"0\",\"TagSet\":null}", DECODE_TAGS, &r), 0);
	decode_reply_release(&r);
	assert_int_equal(dec("{\"RetCode\":0,\"TagSet\":[]}", DECODE_TAGS, &r), 0);
	assert_int_equal(r.total, -1);
	decode_reply_release(&r);
	dec_bad("{\"RetCode\":0}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":5}", DECODE_TAGS, -EBADMSG);
	dec_bad("{\"RetCode\":0,\"TotalCount\":5,\"TagSet\":null}", DECODE_TAGS, -EBADMSG);
}

static void test_unicode(void **state)
{
	struct decode_reply r;

	(void)state;
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":3,\"TagSet\":["
			     "{\"TagName\":\"v1-\\u00e9\\u4e2d\"},"
			     "{\"TagName\":\"\xe6\x97\xa5\xe6\x9c\xac\"},"
			     "{\"TagName\":\"\\ud83d\\ude00\"}]}",
			     DECODE_TAGS, &r),
			 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.items[0].name, "v1-\xc3\xa9\xe4\xb8\xad");
	assert_string_equal(r.items[1].name, "\xe6\x97\xa5\xe6\x9c\xac");
	assert_string_equal(r.items[2].name, "\xf0\x9f\x98\x80");
	decode_reply_release(&r);
}

/* Builds a TagSet reply of n items, each name "t<i>". */
static void build_tags(struct buf *b, int n)
{
	buf_init(b, 64u << 20);
	assert_int_equal(buf_printf(b, "{\"RetCode\":0,\"TotalCount\":%d,\"TagSet\":[", n), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(buf_printf(b, "%s{\"TagName\":\"t%d\",\"UpdateTime\":%d}", i ? "," : "", i, i), 0);
	assert_int_equal(buf_adds(b, "]}"), 0);
}

static void test_many_items(void **state)
{
	struct decode_reply r;
	struct buf b;

	(void)state;
	build_tags(&b, 10000);
	assert_int_equal(decode_reply(b.data, b.len, DECODE_TAGS, &r), 0);
	assert_int_equal(r.n, 10000);
	assert_int_equal(r.total, 10000);
	assert_string_equal(r.items[0].name, "t0");
	assert_string_equal(r.items[9999].name, "t9999");
	assert_string_equal(r.items[9999].time, "9999");
	decode_reply_release(&r);
	buf_release(&b);

	build_tags(&b, DECODE_MAX_ITEMS + 1);
	assert_int_equal(decode_reply(b.data, b.len, DECODE_TAGS, &r), -E2BIG);
	assert_null(r.items);
	assert_int_equal(r.n, 0);
	decode_reply_release(&r);
	buf_release(&b);
}

static void test_long_strings(void **state)
{
	struct decode_reply r;
	struct buf b;
	char *s = malloc(DECODE_MAX_STRING + 2);

	(void)state;
	assert_non_null(s);
	memset(s, 'a', DECODE_MAX_STRING + 1);
	s[DECODE_MAX_STRING + 1] = '\0';
	buf_init(&b, 1 << 20);
	/* a digest at the cap, a name over it, digest over it, time over it
	 * (a name at the cap is no file name: test_bad_names) */
	assert_int_equal(buf_printf(&b,
				    "{\"RetCode\":0,\"TotalCount\":4,\"Message\":\"%s\",\"TagSet\":["
				    "{\"TagName\":\"w\",\"Digest\":\"%.*s\"},{\"TagName\":\"%s\"},"
				    "{\"TagName\":\"x\",\"Digest\":\"%s\"},{\"TagName\":\"y\",\"UpdateTime\":\"%s\"}]}",
				    s, DECODE_MAX_STRING, s, s, s, s),
			 0);
	assert_int_equal(decode_reply(b.data, b.len, DECODE_TAGS, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.skipped, 3);
	assert_int_equal(strlen(r.items[0].digest), DECODE_MAX_STRING);
	assert_int_equal(strlen(r.message), DECODE_MAX_STRING); /* cut, not fatal */
	decode_reply_release(&r);
	buf_release(&b);
	free(s);
}

/* Names that can never be file names are dropped while decoding, counted
 * with the skipped ones (paging positions count them), and the first is
 * kept, made printable, for the one log line. */
static void test_bad_names(void **state)
{
	char long_name[300];
	struct decode_reply r;
	struct buf b;

	(void)state;
	memset(long_name, 'n', 256);
	long_name[256] = '\0';
	buf_init(&b, 1 << 16);
	assert_int_equal(buf_printf(&b,
				    "{\"RetCode\":0,\"TotalCount\":6,\"TagSet\":[{\"TagName\":\"ok\"},"
				    "{\"TagName\":\"a/b\"},{\"TagName\":\".\"},{\"TagName\":\"..\"},"
				    "{\"TagName\":\"%s\"},{\"TagName\":\"%.255s\"}]}",
				    long_name, long_name),
			 0);
	assert_int_equal(decode_reply(b.data, b.len, DECODE_TAGS, &r), 0);
	assert_int_equal(r.n, 2); /* "ok" and the 255-byte name */
	assert_int_equal(r.skipped, 4);
	assert_int_equal(r.badnames, 4);
	assert_string_equal(r.badname, "a/b");
	assert_string_equal(r.items[0].name, "ok");
	assert_int_equal(strlen(r.items[1].name), 255);
	decode_reply_release(&r);
	buf_release(&b);

	/* Images may nest; repositories may not. */
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":3,\"ImageSet\":[{\"ImageName\":\"team/app\"},"
			     "{\"ImageName\":\"a//b\"},{\"ImageName\":\"/etc\"}]}",
			     DECODE_IMAGES, &r),
			 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.badnames, 2);
	assert_string_equal(r.items[0].name, "team/app");
	decode_reply_release(&r);
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":2,\"RepoSet\":[{\"RepoName\":\"team/app\"},"
			     "{\"RepoName\":\"web\"}]}",
			     DECODE_REPOS, &r),
			 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.badname, "team/app");
	decode_reply_release(&r);
	/* The first refused name, made printable. */
	assert_int_equal(
	    dec("{\"RetCode\":0,\"TotalCount\":1,\"TagSet\":[{\"TagName\":\"\\u001b]0;x\\u0007/\"}]}", DECODE_TAGS, &r),
	    0);
	assert_string_equal(r.badname, "\\x1b]0;x\\x07/");
	decode_reply_release(&r);
	/* C1 and bidirectional controls, and bytes that are not UTF-8
	 * (JSON escapes or raw), are dropped like C0 ones. */
	assert_int_equal(dec("{\"RetCode\":0,\"TotalCount\":5,\"TagSet\":[{\"TagName\":\"x\\u009b31m\"},"
			     "{\"TagName\":\"a\\u202eexe.jpg\"},{\"TagName\":\"\xe2\x81\xa6\"},{\"TagName\":\"\xff\"},"
			     "{\"TagName\":\"caf\\u00e9\"}]}",
			     DECODE_TAGS, &r),
			 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.items[0].name, "caf\xc3\xa9");
	assert_int_equal(r.badnames, 4);
	assert_string_equal(r.badname, "x\\xc2\\x9b31m");
	decode_reply_release(&r);
}

/* decode_reply_bounded counts values before parsing: "[0,0,...]" past
 * the cap is refused without building a tree; commas and brackets inside
 * strings are not values. */
static void test_value_cap(void **state)
{
	static const char page[] = "{\"RetCode\":0,\"TotalCount\":2,\"TagSet\":[{\"TagName\":\"a,[{\"},"
				   "{\"TagName\":\"b\\\",\"}]}";
	struct decode_reply r;
	struct buf b;

	(void)state;
	/* root, RetCode, TotalCount, TagSet, 2 items of 1 member each = 8 */
	assert_int_equal(decode_reply_bounded(page, sizeof(page) - 1, DECODE_TAGS, 8, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.items[0].name, "a,[{");
	decode_reply_release(&r);
	assert_int_equal(decode_reply_bounded(page, sizeof(page) - 1, DECODE_TAGS, 7, &r), -E2BIG);
	assert_int_equal(r.n, 0);
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_adds(&b, "{\"RetCode\":0,\"TotalCount\":0,\"Padding\":[0"), 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_adds(&b, ",0"), 0);
	assert_int_equal(buf_adds(&b, "]}"), 0);
	assert_int_equal(decode_reply_bounded(b.data, b.len, DECODE_TAGS, 6656, &r), -E2BIG);
	assert_int_equal(decode_reply_bounded(b.data, b.len, DECODE_TAGS, 0, &r), 0); /* no cap */
	decode_reply_release(&r);
	buf_release(&b);
}

/* A Message reaches terminals: escape sequences are shown, never sent. */
static void test_message_escaped(void **state)
{
	struct decode_reply r;

	(void)state;
	assert_int_equal(dec("{\"RetCode\":171,\"Message\":\"bad\\u001b[2J\\u001b]0;pwned\\u0007\\r\\nimgtagfs: ok "
			     "\\u00e9\\u009b\\u007f\"}",
			     DECODE_NONE, &r),
			 0);
	assert_string_equal(r.message, "bad\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\x0aimgtagfs: ok \xc3\xa9\\xc2\\x9b\\x7f");
	decode_reply_release(&r);
}

/* ---- credential.json and config.json ------------------------------------- */

static int creds(const char *json, const char *profile, char **pub, char **priv)
{
	return decode_credentials(json, strlen(json), profile, pub, priv);
}

static void test_credentials(void **state)
{
	const char *doc = "[{\"public_key\":\"PUB-D\",\"private_key\":\"PRIV-D\"},"
			  "{\"public_key\":\"PUB-W\",\"private_key\":\"PRIV-W\",\"profile\":\"work\"},"
			  "{\"public_key\":\"PUB-W2\",\"private_key\":\"PRIV-W2\",\"profile\":\"work\"},"
			  "{\"public_key\":\"PUB-B\",\"profile\":\"broken\"},"
			  "{\"public_key\":\"PUB-E\",\"private_key\":\"\",\"profile\":\"empty\"},"
			  "7,{\"profile\":3}]";
	char *pub = (char *)1, *priv = (char *)1;

	(void)state;
	assert_int_equal(creds(doc, "work", &pub, &priv), 0);
	assert_string_equal(pub, "PUB-W");
	assert_string_equal(priv, "PRIV-W"); /* the first of the profile */
	free(pub);
	free(priv);
	assert_int_equal(creds(doc, "default", &pub, &priv), 0);
	assert_string_equal(pub, "PUB-D");
	assert_string_equal(priv, "PRIV-D");
	free(pub);
	free(priv);
	assert_int_equal(creds(doc, NULL, &pub, &priv), 0);
	assert_string_equal(pub, "PUB-D");
	free(pub);
	free(priv);

	assert_int_equal(creds(doc, "nobody", &pub, &priv), -ENOENT);
	assert_null(pub);
	assert_null(priv);
	assert_int_equal(creds(doc, "broken", &pub, &priv), -EBADMSG);
	assert_null(pub);
	assert_null(priv);
	assert_int_equal(creds(doc, "empty", &pub, &priv), -EBADMSG);
	assert_null(pub);
	assert_int_equal(creds("[{\"public_key\":\"P\",\"private_key\":\"K\",\"profile\":\"x\"}]", NULL, &pub, &priv),
			 -ENOENT);
	assert_int_equal(creds("{\"public_key\":\"P\",\"private_key\":\"K\"}", NULL, &pub, &priv), -EBADMSG);
	assert_int_equal(creds("[{\"public_key\":\"P\",\"private_key\":", NULL, &pub, &priv), -EBADMSG);
	assert_int_equal(creds("", NULL, &pub, &priv), -EBADMSG);
	assert_int_equal(creds("[]", NULL, &pub, &priv), -ENOENT);
	assert_int_equal(creds("[{\"public_key\":1,\"private_key\":\"K\"}]", NULL, &pub, &priv), -EBADMSG);
	assert_null(pub);
	assert_null(priv);
}

static int config(const char *json, const char *profile, char **picked, char **project, char **url)
{
	return decode_config(json, strlen(json), profile, picked, project, url);
}

static void test_config(void **state)
{
	const char *doc = "[{\"profile\":\"default\",\"project_id\":\"org-def\",\"base_url\":\"https://d/\"},"
			  "{\"profile\":\"work\",\"project_id\":\"org-work\",\"active\":true},"
			  "{\"profile\":\"home\",\"project_id\":\"\",\"base_url\":\"https://h/\",\"active\":true}]";
	char *picked, *project, *url;

	(void)state;
	/* The first active entry wins; base_url absent is NULL. */
	assert_int_equal(config(doc, NULL, &picked, &project, &url), 0);
	assert_string_equal(picked, "work");
	assert_string_equal(project, "org-work");
	assert_null(url);
	free(picked);
	free(project);

	assert_int_equal(config(doc, "home", &picked, &project, &url), 0);
	assert_string_equal(picked, "home");
	assert_null(project); /* empty = not set */
	assert_string_equal(url, "https://h/");
	free(picked);
	free(url);

	/* No active entry: default. Out-pointers may be NULL. */
	assert_int_equal(config("[{\"profile\":\"work\",\"active\":false,\"project_id\":\"w\"},"
				"{\"project_id\":\"org-def\",\"active\":\"true\"}]",
				NULL, &picked, NULL, NULL),
			 0);
	assert_string_equal(picked, "default");
	free(picked);
	assert_int_equal(config("[{\"project_id\":\"org-def\"}]", NULL, NULL, &project, NULL), 0);
	assert_string_equal(project, "org-def");
	free(project);

	picked = project = url = (char *)1;
	assert_int_equal(config(doc, "nobody", &picked, &project, &url), -ENOENT);
	assert_null(picked);
	assert_null(project);
	assert_null(url);
	assert_int_equal(config("[{\"profile\":\"work\"}]", NULL, &picked, &project, &url), -ENOENT);
	assert_int_equal(config("{}", NULL, &picked, &project, &url), -EBADMSG);
	assert_int_equal(config("[", NULL, &picked, &project, &url), -EBADMSG);
	assert_null(picked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_names),	 cmocka_unit_test(test_message_escaped),
	    cmocka_unit_test(test_value_cap),	 cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_repos_images), cmocka_unit_test(test_retcode_forms),
	    cmocka_unit_test(test_bad_json),	 cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_numbers),	 cmocka_unit_test(test_nested_garbage),
	    cmocka_unit_test(test_missing_list), cmocka_unit_test(test_unicode),
	    cmocka_unit_test(test_many_items),	 cmocka_unit_test(test_long_strings),
	    cmocka_unit_test(test_credentials),	 cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
