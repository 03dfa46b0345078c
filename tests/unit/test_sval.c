/* test_sval.c — the shared tier's value codec: round trips (empty, every
 * digest kind, times parsed and not, 5,000 entries), the bytes against the
 * layout sval.h writes down (a value built here by hand, MACs and all),
 * every single-byte change and every truncation refused, a value moved to
 * another namespace, listing or MAC key refused for the right reason, the
 * size cap, the head alone (read first: its length and date, a forged
 * "ITFS" and zeros, a real head on junk), and authentic values (MAC computed here with
 * sign_hmac_sha256) that lie about a count or a length, hold a name
 * listing.c would not admit, or are not canonical: refused as BAD_FORMAT.
 * Every value is decoded from an allocation of exactly its length, so a
 * read past the end is caught under SANITIZE=address. */
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
#include "sign.h"
#include "snap.h"
#include "sval.h"

#define NS "itfs-test"
#define CAP (16u << 20)
#define SHA_A "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define SHA_UPPER "sha256:00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"

static const uint8_t mac_key[SVAL_KEY_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
					      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static struct snap *build(const struct snap_entry *v, size_t n)
{
	struct snap_builder *b = snap_builder_new();
	struct snap *s;

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(snap_builder_add(b, &v[i]), 0);
	s = snap_builder_finish(b);
	assert_non_null(s);
	return s;
}

/* The value of s, in out (released by the caller). */
static void encode(const struct snap *s, const char *key, int64_t fetched, struct buf *out)
{
	buf_init(out, CAP);
	assert_int_equal(sval_encode(s, NS, key, fetched, mac_key, out), 0);
}

/* sval_decode of n bytes at v, copied to an allocation of exactly n
 * bytes; the promises on a refusal are checked here. */
static enum sval_reject decode_as(const void *v, size_t n, const char *ns, const char *key, const uint8_t *mk,
				  int64_t *fetched, struct snap **out)
{
	void *copy = malloc(n ? n : 1);
	int64_t t = 12345;
	int oom = -1;
	enum sval_reject r;

	assert_non_null(copy);
	memcpy(copy, v, n);
	r = sval_decode(copy, n, CAP, ns, key, mk, &t, out, &oom);
	free(copy);
	assert_int_equal(oom, 0);
	if (r != SVAL_OK) {
		assert_null(*out);
		assert_int_equal(t, 12345);
	}
	if (fetched)
		*fetched = t;
	return r;
}

/* The reason v is refused with, under this test's namespace and key. */
static enum sval_reject refusal(const void *v, size_t n, const char *key)
{
	struct snap *s = (struct snap *)1;
	enum sval_reject r = decode_as(v, n, NS, key, mac_key, NULL, &s);

	if (r == SVAL_OK)
		snap_unref(s);
	return r;
}

static void same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_same(const struct snap *a, const struct snap *b)
{
	struct snap_entry x, y;

	assert_int_equal(snap_count(a), snap_count(b));
	for (size_t i = 0; i < snap_count(a); i++) {
		snap_get(a, i, &x);
		snap_get(b, i, &y);
		assert_string_equal(x.name, y.name);
		same_str(x.digest, y.digest);
		same_str(x.time_raw, y.time_raw);
		assert_true(x.mtime == y.mtime);
	}
	assert_int_equal(snap_version(a), snap_version(b));
}

/* Encodes, decodes, compares; encodes the result again: the same bytes. */
static void round_trip(const struct snap *s, const char *key, int64_t fetched)
{
	struct buf v, again;
	struct snap *d = NULL;
	int64_t t = 0;

	encode(s, key, fetched, &v);
	assert_int_equal(decode_as(v.data, v.len, NS, key, mac_key, &t, &d), SVAL_OK);
	assert_non_null(d);
	assert_true(t == fetched);
	assert_same(s, d);
	encode(d, key, fetched, &again);
	assert_int_equal(again.len, v.len);
	assert_memory_equal(again.data, v.data, v.len);
	buf_release(&again);
	buf_release(&v);
	snap_unref(d);
}

static void test_empty(void **state)
{
	struct snap *s = build(NULL, 0);
	struct buf v;

	(void)state;
	round_trip(s, "R", 1700000000123);
	round_trip(s, "T3:abcimg", -1);
	round_trip(s, "", INT64_MIN);
	/* Header, fetched_ms, total, the key, the head's MAC, the count, the
	 * MAC: nothing more. */
	encode(s, "R", 0, &v);
	assert_int_equal(v.len, 8 + 8 + 4 + 2 + 1 + SVAL_MAC_LEN + 4 + SVAL_MAC_LEN);
	buf_release(&v);
	snap_unref(s);
}

/* Every digest kind, times parsed and unparsed. */
static const struct snap_entry mixed[] = {
    {.name = "latest", .digest = SHA_A, .mtime = 1700000000},
    {.name = "none", .digest = NULL, .mtime = 0},
    {.name = "other", .digest = "sha512:abcdef", .mtime = -5},
    {.name = "upper", .digest = SHA_UPPER, .mtime = INT64_MAX},
    {.name = "short", .digest = "sha256:0011", .mtime = 1},
    {.name = "empty-digest", .digest = "", .mtime = 2},
    {.name = "raw", .digest = SHA_A, .time_raw = "yesterday at noon", .mtime = SNAP_NO_TIME},
    {.name = "raw-empty", .time_raw = "", .mtime = SNAP_NO_TIME},
    {.name = "no-time", .mtime = SNAP_NO_TIME},
    {.name = "v1.2.3_rc-1",
     .digest = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeef",
     .mtime = 3},
};

static void test_digest_kinds(void **state)
{
	struct snap *s = build(mixed, sizeof(mixed) / sizeof(mixed[0]));

	(void)state;
	round_trip(s, "T4:repoimg", 42);
	snap_unref(s);
}

static void test_image_names(void **state)
{
	static const struct snap_entry v[] = {
	    {.name = "team/app", .mtime = 1}, {.name = "a/b/c", .mtime = 2}, {.name = "app", .mtime = 3}};
	struct snap *s = build(v, 3);
	struct buf out;

	(void)state;
	round_trip(s, "I4:repo", 7);
	/* The same names are not tags: nothing is written. */
	buf_init(&out, CAP);
	assert_int_equal(sval_encode(s, NS, "T4:repoapp", 7, mac_key, &out), -EINVAL);
	assert_int_equal(out.len, 0);
	buf_release(&out);
	snap_unref(s);
}

static void test_many(void **state)
{
	struct snap_builder *b = snap_builder_new();
	char name[32], digest[SNAP_SHA256_TEXT];
	struct snap *s;

	(void)state;
	assert_non_null(b);
	for (int i = 0; i < 5000; i++) {
		struct snap_entry e = {.name = name, .mtime = 1600000000 + i};

		snprintf(name, sizeof(name), "tag-%05d", i);
		snprintf(digest, sizeof(digest), "sha256:%064x", i);
		e.digest = i % 3 ? digest : (i % 2 ? NULL : "md5:abc");
		if (i % 7 == 0) {
			e.time_raw = "not a time";
			e.mtime = SNAP_NO_TIME;
		}
		assert_int_equal(snap_builder_add(b, &e), 0);
	}
	s = snap_builder_finish(b);
	assert_non_null(s);
	assert_int_equal(snap_count(s), 5000);
	round_trip(s, "T4:repoimg", 99);
	snap_unref(s);
}

/* A value of a few entries of every kind. */
static void small_value(struct buf *v)
{
	struct snap *s = build(mixed, 4);

	encode(s, "T1:ab", 1000, v);
	snap_unref(s);
}

/* Changing any byte to any other value: the MAC no longer matches (the
 * head's, or the value's); but the first 8 bytes say another version
 * (read first), and a key length changed may put the head's end past the
 * value's (too short for its head). */
static void test_every_byte_changed(void **state)
{
	struct buf v;
	unsigned char *copy;

	(void)state;
	small_value(&v);
	copy = malloc(v.len);
	assert_non_null(copy);
	for (size_t i = 0; i < v.len; i++) {
		for (unsigned x = 1; x < 256; x++) {
			enum sval_reject r;

			memcpy(copy, v.data, v.len);
			copy[i] ^= (unsigned char)x;
			r = refusal(copy, v.len, "T1:ab");
			if (i < 8)
				assert_int_equal(r, SVAL_BAD_VERSION);
			else if (i == 20 || i == 21)
				assert_true(r == SVAL_BAD_MAC || r == SVAL_SHORT);
			else
				assert_int_equal(r, SVAL_BAD_MAC);
		}
	}
	assert_int_equal(refusal(v.data, v.len, "T1:ab"), SVAL_OK);
	free(copy);
	buf_release(&v);
}

static void test_every_truncation(void **state)
{
	struct buf v;
	const size_t head = 8 + 8 + 4 + 2 + 5 + SVAL_MAC_LEN;

	(void)state;
	small_value(&v);
	/* Shorter than the head: SHORT; past it, not the length the head says. */
	for (size_t n = 0; n < v.len; n++)
		assert_int_equal(refusal(v.data, n, "T1:ab"), n < head ? SVAL_SHORT : SVAL_BAD_MAC);
	/* One byte more is no better. */
	assert_int_equal(buf_add(&v, "", 1), 0);
	assert_int_equal(refusal(v.data, v.len, "T1:ab"), SVAL_BAD_MAC);
	buf_release(&v);
}

/* The MAC binds the namespace and the MAC key; the key written in the
 * value is authentic, so a value of another listing is BAD_KEY. */
static void test_moved(void **state)
{
	static const struct snap_entry v[] = {{.name = "x", .mtime = 1}};
	struct snap *s = build(v, 1), *d = NULL;
	uint8_t other[SVAL_KEY_LEN];
	struct buf val;

	(void)state;
	encode(s, "T3:abcx", 5, &val);
	assert_int_equal(decode_as(val.data, val.len, "itfs-other", "T3:abcx", mac_key, NULL, &d), SVAL_BAD_MAC);
	assert_int_equal(decode_as(val.data, val.len, "", "T3:abcx", mac_key, NULL, &d), SVAL_BAD_MAC);
	memcpy(other, mac_key, sizeof(other));
	other[31] ^= 1;
	assert_int_equal(decode_as(val.data, val.len, NS, "T3:abcx", other, NULL, &d), SVAL_BAD_MAC);
	assert_int_equal(refusal(val.data, val.len, "T3:abcy"), SVAL_BAD_KEY);
	assert_int_equal(refusal(val.data, val.len, "T3:abc"), SVAL_BAD_KEY);
	assert_int_equal(refusal(val.data, val.len, "T3:abcxx"), SVAL_BAD_KEY);
	assert_int_equal(refusal(val.data, val.len, "T3:abcx"), SVAL_OK);
	buf_release(&val);
	snap_unref(s);
}

static void test_size_cap(void **state)
{
	struct buf v;
	struct snap *s = (struct snap *)1;
	int64_t t;
	int oom = -1;

	(void)state;
	small_value(&v);
	assert_int_equal(sval_decode(v.data, v.len, v.len - 1, NS, "T1:ab", mac_key, &t, &s, &oom), SVAL_TOO_BIG);
	assert_null(s);
	assert_int_equal(oom, 0);
	/* The cap comes before everything, the length check included. */
	assert_int_equal(sval_decode(v.data, 10, 5, NS, "T1:ab", mac_key, &t, &s, NULL), SVAL_TOO_BIG);
	assert_int_equal(sval_decode(v.data, v.len, v.len, NS, "T1:ab", mac_key, &t, &s, NULL), SVAL_OK);
	snap_unref(s);
	buf_release(&v);
}

/* Values built by hand from sval.h's layout, sealed with a MAC computed
 * here: authentic, whatever they say. */
static void put_le(struct buf *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)(v >> (8 * i));

		assert_int_equal(buf_add(b, &c, 1), 0);
	}
}

static void put_bytes(struct buf *b, const void *p, size_t n)
{
	assert_int_equal(buf_add(b, p, n), 0);
}

/* "ITFS" and mark (version, flags, reserved), fetched_ms, total (filled
 * in by seal), the key, room for the head's MAC (seal's), the count. */
static void head_marked(struct buf *b, const char *mark, const char *key, uint32_t count)
{
	buf_init(b, CAP);
	put_bytes(b, mark, 8);
	put_le(b, 77, 8);
	put_le(b, 0, 4);
	put_le(b, strlen(key), 2);
	put_bytes(b, key, strlen(key));
	for (int i = 0; i < SVAL_MAC_LEN; i++)
		put_le(b, 0, 1);
	put_le(b, count, 4);
}

static void head(struct buf *b, const char *key, uint32_t count)
{
	head_marked(b, "ITFS\2\0\0\0", key, count);
}

/* One entry: the name (n bytes), no digest, mtime 5, no raw text. */
static void entry(struct buf *b, const char *name, size_t n)
{
	put_le(b, n, 1);
	put_bytes(b, name, n);
	put_le(b, 0, 1);
	put_le(b, 5, 8);
	put_le(b, 0, 1);
}

/* The MAC under mac_key over scope, a NUL and n bytes at p. */
static void mac_of(const char *scope, const void *p, size_t n, unsigned char mac[SIGN_SHA256_LEN])
{
	struct buf m;

	buf_init(&m, CAP);
	put_bytes(&m, scope, strlen(scope) + 1);
	put_bytes(&m, p, n);
	assert_int_equal(sign_hmac_sha256(mac_key, SVAL_KEY_LEN, m.data, m.len, mac), 0);
	buf_release(&m);
}

/* Writes total (the length b will have with its MAC, or as_total when
 * not 0) and the head's MAC, over NS ":head", a NUL and the head, whose
 * key length is b's own; then appends the MAC over NS, a NUL and b. */
static void seal_as(struct buf *b, uint64_t as_total)
{
	unsigned char mac[SIGN_SHA256_LEN], *v = (unsigned char *)b->data;
	uint64_t total = as_total ? as_total : b->len + SVAL_MAC_LEN;
	size_t keylen = (size_t)v[20] | (size_t)v[21] << 8, end = 22 + keylen;

	for (int i = 0; i < 4; i++)
		v[16 + i] = (unsigned char)(total >> (8 * i));
	if (end + SVAL_MAC_LEN <= b->len) {
		mac_of(NS ":head", v, end, mac);
		memcpy(v + end, mac, sizeof(mac));
	}
	mac_of(NS, b->data, b->len, mac);
	put_bytes(b, mac, sizeof(mac));
}

static void seal(struct buf *b)
{
	seal_as(b, 0);
}

static enum sval_reject sealed_refusal(struct buf *b, const char *key)
{
	enum sval_reject r;

	seal(b);
	r = refusal(b->data, b->len, key);
	buf_release(b);
	return r;
}

/* The layout in sval.h, byte for byte: what sval_encode writes. */
static void test_layout(void **state)
{
	static const struct snap_entry v[] = {
	    {.name = "a", .digest = SHA_A, .mtime = 0x0102030405060708},
	    {.name = "b", .digest = "md5:x", .time_raw = "noon", .mtime = SNAP_NO_TIME},
	};
	static const unsigned char bin[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
					      0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
					      0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	struct snap *s = build(v, 2);
	struct buf want, got;

	(void)state;
	head(&want, "T1:ab", 2);
	put_bytes(&want, "\1a\1", 3);
	put_bytes(&want, bin, sizeof(bin));
	put_bytes(&want, "\x08\x07\x06\x05\x04\x03\x02\x01\0", 9);
	put_bytes(&want, "\1b\2\5md5:x", 9);
	put_le(&want, (uint64_t)SNAP_NO_TIME, 8);
	put_bytes(&want, "\1\4noon", 6);
	seal(&want);
	buf_init(&got, CAP);
	assert_int_equal(sval_encode(s, NS, "T1:ab", 77, mac_key, &got), 0);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	buf_release(&got);
	buf_release(&want);
	snap_unref(s);
}

/* The entries of an authentic "R" value, after its count. */
struct body {
	const char *what;
	uint32_t count;
	const char *bytes;
	size_t n;
};

/* A string literal's bytes and their count, NULs included. */
#define BYTES(s) s, sizeof(s) - 1

/* Each body's reason, in an authentic "R" value. */
static void expect_bodies(const struct body *v, size_t n, enum sval_reject why)
{
	struct buf b;

	for (size_t i = 0; i < n; i++) {
		head(&b, "R", v[i].count);
		put_bytes(&b, v[i].bytes, v[i].n);
		if (sealed_refusal(&b, "R") != why)
			fail_msg("%s: not refused as %s", v[i].what, sval_reject_text(why));
	}
}

/* An entry is 1+n name, 1 kind (+32, +1+n), 8 mtime, 1 has_raw (+1+n). */
static const struct body lying[] = {
    {"a count the bytes cannot hold", 1000, BYTES("\1a\0\0\0\0\0\0\0\0\0\0")},
    {"a count of 2^32 - 1 and no bytes", UINT32_MAX, BYTES("")},
    /* A count the bytes could hold: 24 bytes, two entries' worth. */
    {"a second name of 20 bytes with 11 left", 2,
     BYTES("\1a\0\0\0\0\0\0\0\0\0\0\x14"
	   "bcdefghijkl")},
    {"a name past the end", 1, BYTES("\xc8name\0\0\0\0\0\0\0\0\0\0\0\0\0\0")},
    {"a raw text past the end", 1, BYTES("\1a\0\0\0\0\0\0\0\0\0\1\xff")},
    {"a digest text past the end", 1, BYTES("\1a\2\xff\0\0\0\0\0\0\0\0\0")},
    {"a binary digest past the end", 1, BYTES("\1a\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")},
    {"an mtime cut short", 1, BYTES("\3abc\0\0\0\0\0\0\0\0")},
    {"no digest kind left", 1,
     BYTES("\x0b"
	   "abcdefghijk")},
    {"no has_raw left", 1, BYTES("\2ab\0\0\0\0\0\0\0\0\0")},
    {"a byte after the entries", 1, BYTES("\1a\0\0\0\0\0\0\0\0\0\0\0")},
};

static void test_lying_lengths(void **state)
{
	struct buf b;

	(void)state;
	expect_bodies(lying, sizeof(lying) / sizeof(lying[0]), SVAL_BAD_FORMAT);
	/* A key that runs past the end: its head cannot be there. */
	buf_init(&b, CAP);
	put_bytes(&b, "ITFS\2\0\0\0", 8);
	put_le(&b, 77, 8);
	put_le(&b, 100, 4);
	put_le(&b, 60000, 2);
	put_bytes(&b, "R\0\0\0\0", 5);
	assert_int_equal(sealed_refusal(&b, "R"), SVAL_SHORT);
	/* And a well formed one is fine. */
	head(&b, "R", 1);
	entry(&b, "a", 1);
	assert_int_equal(sealed_refusal(&b, "R"), SVAL_OK);
}

static void test_versions(void **state)
{
	static const char *const marks[] = {"ITFS\1\0\0\0", "ITFS\3\0\0\0", "ITFX\2\0\0\0", "ITFS\2\1\0\0",
					    "ITFS\2\0\0\1", "itfs\2\0\0\0", "ITFS\0\0\0\0"};
	struct buf b;

	(void)state;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		head_marked(&b, marks[i], "R", 0);
		assert_int_equal(sealed_refusal(&b, "R"), SVAL_BAD_VERSION);
	}
}

/* The head alone: read first (up to SVAL_HEAD_MAX bytes of a value), it
 * says how long the value is, vouched for by the fleet's key, before
 * anything else is read. */
static void test_head(void **state)
{
	struct snap *s = build(mixed, 4), *d = NULL;
	struct buf v, b;
	int64_t t = 0;
	size_t total = 0, hl = 8 + 8 + 4 + 2 + 5 + SVAL_MAC_LEN;
	int oom = -1;

	(void)state;
	encode(s, "T1:ab", 1234, &v);
	for (size_t n = hl; n <= v.len; n++) {
		total = 0;
		assert_int_equal(sval_check_head(v.data, n, CAP, NS, "T1:ab", mac_key, &t, &total, &oom), SVAL_OK);
		assert_int_equal(total, v.len);
		assert_int_equal(t, 1234);
		assert_int_equal(oom, 0);
	}
	assert_int_equal(sval_check_head(v.data, hl - 1, CAP, NS, "T1:ab", mac_key, &t, &total, NULL), SVAL_SHORT);
	assert_int_equal(sval_check_head(v.data, v.len, v.len - 1, NS, "T1:ab", mac_key, &t, &total, NULL),
			 SVAL_TOO_BIG);
	assert_int_equal(sval_check_head(v.data, v.len, CAP, NS, "T1:ac", mac_key, &t, &total, NULL), SVAL_BAD_KEY);
	assert_int_equal(sval_check_head(v.data, v.len, CAP, "other", "T1:ab", mac_key, &t, &total, NULL),
			 SVAL_BAD_MAC);
	/* "ITFS" and zeros (60 MiB of them, as anyone who can write to
	 * Redis can store): refused by its first bytes. */
	buf_init(&b, CAP);
	put_bytes(&b, "ITFS", 4);
	for (int i = 0; i < 200; i++)
		put_le(&b, 0, 1);
	assert_int_equal(sval_check_head(b.data, b.len, CAP, NS, "T1:ab", mac_key, &t, &total, NULL), SVAL_BAD_VERSION);
	buf_release(&b);
	/* A real head, copied onto more (or fewer) bytes than it says: the
	 * head passes, the value does not. */
	buf_init(&b, CAP);
	put_bytes(&b, v.data, v.len);
	put_bytes(&b, "more", 4);
	assert_int_equal(sval_decode(b.data, b.len, CAP, NS, "T1:ab", mac_key, &t, &d, NULL), SVAL_BAD_MAC);
	assert_int_equal(sval_decode(b.data, v.len - 1, CAP, NS, "T1:ab", mac_key, &t, &d, NULL), SVAL_BAD_MAC);
	assert_null(d);
	buf_release(&b);
	/* A head that says a length no value can have. */
	head(&b, "R", 0);
	seal_as(&b, 10);
	assert_int_equal(sval_check_head(b.data, b.len, CAP, NS, "R", mac_key, &t, &total, NULL), SVAL_BAD_FORMAT);
	buf_release(&b);
	head(&b, "R", 0);
	seal_as(&b, (uint64_t)UINT32_MAX);
	assert_int_equal(sval_check_head(b.data, b.len, CAP, NS, "R", mac_key, &t, &total, NULL), SVAL_TOO_BIG);
	buf_release(&b);
	buf_release(&v);
	snap_unref(s);
}

/* One authentic entry named n bytes at name, under key: the reason. */
static enum sval_reject name_refusal(const char *key, const char *name, size_t n)
{
	struct buf b;

	head(&b, key, 1);
	entry(&b, name, n);
	return sealed_refusal(&b, key);
}

static void test_names(void **state)
{
	static const char *const never[] = {"",
					    ".",
					    "..",
					    "a\nb",
					    "a\tb",
					    "\x1b[31m",
					    "a\x7f",
					    "\x01",
					    "x\xc2\x9b"
					    "31m",
					    "a\xe2\x80\xae"
					    "b",
					    "\xe2\x81\xa6",
					    "\xff",
					    "\xc0\xaf"};
	static const char *const slashed[] = {"a/b", "/a", "a/", "a//b", "a/./b", "a/../b", "a/\n"};
	static const char *const keys[] = {"R", "I4:repo", "T4:repoimg", "t4:repo3:imgtag"};

	(void)state;
	for (size_t k = 0; k < 4; k++) {
		for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
			assert_int_equal(name_refusal(keys[k], never[i], strlen(never[i])), SVAL_BAD_FORMAT);
		/* A NUL would cut the name short. */
		assert_int_equal(name_refusal(keys[k], "a\0b", 3), SVAL_BAD_FORMAT);
		assert_int_equal(name_refusal(keys[k], "\xc3\xa9t\xc3\xa9", 5), SVAL_OK);
	}
	for (size_t i = 0; i < sizeof(slashed) / sizeof(slashed[0]); i++) {
		assert_int_equal(name_refusal("R", slashed[i], strlen(slashed[i])), SVAL_BAD_FORMAT);
		assert_int_equal(name_refusal("T4:repoimg", slashed[i], strlen(slashed[i])), SVAL_BAD_FORMAT);
		assert_int_equal(name_refusal("I4:repo", slashed[i], strlen(slashed[i])),
				 i == 0 ? SVAL_OK : SVAL_BAD_FORMAT);
	}
}

/* Authentic but not what sval_encode writes: one snapshot, one value. */
static const struct body not_canonical[] = {
    {"names out of order", 2, BYTES("\1b\0\0\0\0\0\0\0\0\0\0\1a\0\0\0\0\0\0\0\0\0\0")},
    {"a name twice", 2, BYTES("\1a\0\0\0\0\0\0\0\0\0\0\1a\0\0\0\0\0\0\0\0\0\0")},
    {"a canonical sha256 as text", 1, BYTES("\1a\2\x47" SHA_A "\0\0\0\0\0\0\0\0\0")},
    {"digest kind 3", 1, BYTES("\1a\3\0\0\0\0\0\0\0\0\0")},
    {"has_raw 2", 1, BYTES("\1a\0\0\0\0\0\0\0\0\0\2\0")},
    /* Texts go into tag files: no control byte, no NUL. */
    {"a newline in a digest", 1, BYTES("\1a\2\3a\nb\0\0\0\0\0\0\0\0\0")},
    {"a NUL in a time", 1, BYTES("\1a\0\0\0\0\0\0\0\0\0\1\3a\0b")},
    {"a CR in a time", 1, BYTES("\1a\0\0\0\0\0\0\0\0\0\1\3a\rb")},
    /* Nor a C1 or bidirectional control, nor a byte that is not UTF-8. */
    {"CSI (U+009B) in a digest", 1,
     BYTES("\1a\2\3\xc2\x9b"
	   "b\0\0\0\0\0\0\0\0\0")},
    {"U+202E in a time", 1, BYTES("\1a\0\0\0\0\0\0\0\0\0\1\3\xe2\x80\xae")},
    {"a stray byte in a time", 1, BYTES("\1a\0\0\0\0\0\0\0\0\0\1\1\xff")},
};

static void test_not_canonical(void **state)
{
	(void)state;
	expect_bodies(not_canonical, sizeof(not_canonical) / sizeof(not_canonical[0]), SVAL_BAD_FORMAT);
}

static void expect_einval(const struct snap_entry *e, const char *key)
{
	struct snap *s = build(e, 1);
	struct buf out;

	buf_init(&out, CAP);
	assert_int_equal(sval_encode(s, NS, key, 0, mac_key, &out), -EINVAL);
	assert_int_equal(out.len, 0);
	buf_release(&out);
	snap_unref(s);
}

/* What the format cannot hold, or the decoder would refuse. */
static void test_encode_refuses(void **state)
{
	static char long_image[301], long_text[257], *long_key;
	struct snap_entry e = {.name = "a"};

	(void)state;
	for (size_t i = 0; i < 300; i++)
		long_image[i] = i % 10 == 5 ? '/' : 'x';
	memset(long_text, 'x', 256);
	e.name = long_image; /* a good image name, but 300 bytes */
	expect_einval(&e, "I1:r");
	e.name = "a";
	e.digest = long_text;
	expect_einval(&e, "R");
	e.digest = "sha256:\n";
	expect_einval(&e, "R");
	e.digest = NULL;
	e.time_raw = long_text;
	expect_einval(&e, "R");
	e.time_raw = "12:00\n";
	expect_einval(&e, "R");
	e.time_raw = "12:00\xc2\x9b";
	expect_einval(&e, "R");
	e.time_raw = NULL;
	e.name = "a\nb";
	expect_einval(&e, "R");
	e.name = ".";
	expect_einval(&e, "T1:ab");
	e.name = "a";
	long_key = malloc(65537);
	assert_non_null(long_key);
	memset(long_key, 'k', 65536);
	long_key[65536] = '\0';
	expect_einval(&e, long_key);
	long_key[65535] = '\0'; /* 65535 bytes is fine */
	{
		struct snap *s = build(&e, 1);
		struct buf v;

		encode(s, long_key, 0, &v);
		assert_int_equal(refusal(v.data, v.len, long_key), SVAL_OK);
		buf_release(&v);
		snap_unref(s);
	}
	free(long_key);
}

/* out's cap bounds the value; on any error out keeps what it had. */
static void test_encode_cap(void **state)
{
	struct snap *s = build(mixed, 4);
	struct buf v, out;

	(void)state;
	encode(s, "T1:ab", 1, &v);
	buf_init(&out, 3 + v.len - 1);
	assert_int_equal(buf_add(&out, "pre", 3), 0);
	assert_int_equal(sval_encode(s, NS, "T1:ab", 1, mac_key, &out), -EFBIG);
	assert_int_equal(out.len, 3);
	out.max++;
	assert_int_equal(sval_encode(s, NS, "T1:ab", 1, mac_key, &out), 0);
	assert_int_equal(out.len, 3 + v.len);
	assert_memory_equal(out.data, "pre", 3);
	assert_memory_equal(out.data + 3, v.data, v.len);
	buf_release(&out);
	buf_release(&v);
	snap_unref(s);
}

static void test_reject_text(void **state)
{
	(void)state;
	assert_string_equal(sval_reject_text(SVAL_BAD_MAC), "bad MAC");
	for (int r = SVAL_OK; r <= SVAL_BAD_FORMAT; r++) {
		const char *t = sval_reject_text((enum sval_reject)r);

		assert_true(t[0] >= 'a' && t[0] <= 'z');
		assert_true(strlen(t) < 32);
		for (int q = SVAL_OK; q < r; q++)
			assert_string_not_equal(t, sval_reject_text((enum sval_reject)q));
	}
	assert_non_null(sval_reject_text((enum sval_reject)99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_digest_kinds),
	    cmocka_unit_test(test_image_names),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_every_byte_changed),
	    cmocka_unit_test(test_every_truncation),
	    cmocka_unit_test(test_moved),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_lying_lengths),
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_head),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_not_canonical),
	    cmocka_unit_test(test_encode_refuses),
	    cmocka_unit_test(test_encode_cap),
	    cmocka_unit_test(test_reject_text),
	};
	return cmocka_run_group_tests_name("sval", tests, NULL, NULL);
}
