/* fuzz_sval.c — libFuzzer harness for the shared tier's value codec
 * (sval.h), with a fixed namespace and MAC key.
 *
 * Input: one selector byte, then the bytes. The selector's low two bits
 * say what the bytes are: 0 the whole value as read from Redis (only the
 * seed corpus's values carry right MACs, so this mode tries the checks up
 * to and at the MACs); 1 the value without its MAC, whose total length
 * and head MAC the harness writes in (when the bytes hold a head) and
 * whose MAC it appends (an authentic value of any contents); 2 and 3 the
 * count and entries alone, behind a head the harness writes for the
 * listing asked for (deep into the entries at once), 3 with a fetch time
 * from the bytes' last 8. The next two bits pick the listing: the
 * repositories, a repository's images (names with '/'), an image's tags,
 * one tag alone. The value is handed over in an allocation of exactly its
 * length, so a read past it is caught.
 *
 * Invariants: a refusal leaves no snapshot; out of memory only as
 * BAD_FORMAT; up to the contents, the answer is the one the layout's
 * checks give in the order sval.h documents (computed here: the cap, the
 * version, the head's length, its MAC, the key, the length it says, the
 * value's MAC); sval_check_head agrees with sval_decode on every value
 * and on every prefix of it that holds the head. A value that decodes has
 * entries in strictly ascending byte order with names listing.c would
 * admit for its kind and printable texts, no more of them than its bytes
 * could hold, and encodes back to exactly the same bytes.
 */
#include <stdbool.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "names.h"
#include "sign.h"
#include "snap.h"
#include "sval.h"

#define NS "fuzz"
#define FETCHED 1700000000000LL
#define MAX_VALUE (1u << 20)
#define FIXED 22 /* mark, fetched_ms, total, keylen */
#define ENTRY_MIN 12

static const uint8_t mac_key[SVAL_KEY_LEN] = {0xf0, 0x0d, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
					      15,   16,	  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
static const char *const keys[4] = {"R", "I4:repo", "T4:repoimg", "t4:repo3:imgv1"};

static void put_le(struct buf *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)(v >> (8 * i));

		FUZZ_CHECK(buf_add(b, &c, 1) == 0);
	}
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* "ITFS" 2 0 0 0, the fetch time, total 0, the key, room for the head's
 * MAC: seal fills in the two. */
static void put_head(struct buf *b, const char *key, int64_t fetched)
{
	static const uint8_t room[SVAL_MAC_LEN];

	FUZZ_CHECK(buf_add(b, "ITFS\2\0\0\0", 8) == 0);
	put_le(b, (uint64_t)fetched, 8);
	put_le(b, 0, 4);
	put_le(b, strlen(key), 2);
	FUZZ_CHECK(buf_add(b, key, strlen(key)) == 0);
	FUZZ_CHECK(buf_add(b, room, sizeof(room)) == 0);
}

/* The MAC over scope, a NUL and n bytes at v, computed here. */
static void mac_of(const char *scope, const void *v, size_t n, unsigned char mac[SIGN_SHA256_LEN])
{
	struct buf m;

	buf_init(&m, 2 * MAX_VALUE);
	FUZZ_CHECK(buf_add(&m, scope, strlen(scope) + 1) == 0);
	FUZZ_CHECK(buf_add(&m, v, n) == 0);
	FUZZ_CHECK(sign_hmac_sha256(mac_key, SVAL_KEY_LEN, m.data, m.len, mac) == 0);
	buf_release(&m);
}

/* The key length a value's bytes say, or -1 when they hold no head. */
static long head_keylen(const uint8_t *v, size_t n)
{
	long kl;

	if (n < FIXED)
		return -1;
	kl = (long)get_le(v + 20, 2);
	return n >= FIXED + (size_t)kl + SVAL_MAC_LEN ? kl : -1;
}

/* The total length and the head's MAC written in (when v holds a head),
 * the value's MAC appended. */
static void seal(struct buf *v)
{
	unsigned char mac[SIGN_SHA256_LEN], *p = (unsigned char *)v->data;
	long kl = head_keylen(p, v->len);
	uint64_t total = v->len + SVAL_MAC_LEN;

	if (kl >= 0) {
		for (int i = 0; i < 4; i++)
			p[16 + i] = (unsigned char)(total >> (8 * i));
		mac_of(NS ":head", p, FIXED + (size_t)kl, mac);
		memcpy(p + FIXED + kl, mac, sizeof(mac));
	}
	mac_of(NS, v->data, v->len, mac);
	FUZZ_CHECK(buf_add(v, mac, sizeof(mac)) == 0);
}

/* The answer sval_check_head gives for a value whose first n bytes are
 * v, in the order sval.h documents: the version, the head's length, its
 * MAC, the key, the length it says. */
static enum sval_reject expected_head(const uint8_t *v, size_t n, const char *key)
{
	unsigned char mac[SIGN_SHA256_LEN];
	long kl;
	uint64_t total;

	if (n < 8)
		return SVAL_SHORT;
	if (memcmp(v, "ITFS\2\0\0\0", 8) != 0)
		return SVAL_BAD_VERSION;
	if ((kl = head_keylen(v, n)) < 0)
		return SVAL_SHORT;
	mac_of(NS ":head", v, FIXED + (size_t)kl, mac);
	if (memcmp(mac, v + FIXED + kl, SVAL_MAC_LEN) != 0)
		return SVAL_BAD_MAC;
	if ((size_t)kl != strlen(key) || memcmp(v + FIXED, key, (size_t)kl) != 0)
		return SVAL_BAD_KEY;
	total = get_le(v + 16, 4);
	if (total < FIXED + (size_t)kl + SVAL_MAC_LEN + 4 + SVAL_MAC_LEN)
		return SVAL_BAD_FORMAT;
	return total > MAX_VALUE ? SVAL_TOO_BIG : SVAL_OK;
}

/* sval_decode's answer up to the contents (SVAL_OK: the contents decide,
 * OK or BAD_FORMAT): the cap, the head, then its length and the MAC. */
static enum sval_reject expected(const uint8_t *v, size_t n, const char *key)
{
	unsigned char mac[SIGN_SHA256_LEN];
	enum sval_reject h;

	if (n > MAX_VALUE)
		return SVAL_TOO_BIG;
	if ((h = expected_head(v, n, key)) != SVAL_OK)
		return h;
	if (get_le(v + 16, 4) != n)
		return SVAL_BAD_MAC;
	mac_of(NS, v, n - SVAL_MAC_LEN, mac);
	return memcmp(mac, v + n - SVAL_MAC_LEN, SVAL_MAC_LEN) == 0 ? SVAL_OK : SVAL_BAD_MAC;
}

/* What a tag file line may hold: printable text (text.h). */
static bool one_line(const char *s)
{
	return !s || fuzz_ref_printable(s, strlen(s));
}

static void check_snap(const struct snap *s, const char *key, size_t n)
{
	struct snap_entry e;
	char prev[NAMES_MAX + 1] = "";

	FUZZ_CHECK(snap_count(s) <= n / ENTRY_MIN);
	for (size_t i = 0; i < snap_count(s); i++) {
		snap_get(s, i, &e);
		FUZZ_CHECK(key[0] == 'I' ? names_valid_image(e.name) : names_valid_component(e.name, strlen(e.name)));
		FUZZ_CHECK(strlen(e.name) <= NAMES_MAX);
		FUZZ_CHECK(i == 0 || strcmp(prev, e.name) < 0);
		FUZZ_CHECK(one_line(e.digest) && one_line(e.time_raw));
		memcpy(prev, e.name, strlen(e.name) + 1);
	}
}

/* The head alone, as a reader reads it first: from a prefix that holds
 * it (the shortest, and the whole), the answer expected_head gives, and
 * on SVAL_OK the length and date the head says. */
static void fuzz_head(const uint8_t *v, size_t n, const char *key)
{
	long kl = head_keylen(v, n);
	size_t sizes[2] = {kl < 0 ? n : FIXED + (size_t)kl + SVAL_MAC_LEN, n};
	enum sval_reject want = expected_head(v, n, key);

	for (int i = 0; i < 2; i++) {
		char *copy = fuzz_bytes(v, sizes[i]);
		int64_t fetched = 0;
		size_t total = 0;
		int oom = -1;
		enum sval_reject r = sval_check_head(copy, sizes[i], MAX_VALUE, NS, key, mac_key, &fetched, &total, &oom);

		FUZZ_CHECK(r == want || (oom == 1 && r == SVAL_BAD_FORMAT));
		if (r == SVAL_OK)
			FUZZ_CHECK(total == get_le(v + 16, 4) && fetched == (int64_t)get_le(v + 8, 8));
		free(copy);
	}
}

/* Decodes v (n bytes, in an allocation of exactly n) and checks it;
 * sealed: the harness made the MACs. */
static void fuzz_value(const uint8_t *v, size_t n, const char *key, bool sealed)
{
	enum sval_reject want = expected(v, n, key);
	char *copy = fuzz_bytes(v, n);
	struct snap *s = (struct snap *)1;
	int64_t fetched = 0;
	int oom = -1;
	enum sval_reject r = sval_decode(copy, n, MAX_VALUE, NS, key, mac_key, &fetched, &s, &oom);
	struct buf again;

	FUZZ_CHECK(r >= SVAL_OK && r <= SVAL_BAD_FORMAT);
	FUZZ_CHECK(oom == 0 || (oom == 1 && r == SVAL_BAD_FORMAT));
	/* Sealed by the harness: never a bad MAC, unless it held no head to seal. */
	FUZZ_CHECK(!sealed || r != SVAL_BAD_MAC || head_keylen(v, n - SVAL_MAC_LEN) < 0);
	/* Up to the contents, the checks' order decides. */
	if (want != SVAL_OK)
		FUZZ_CHECK(r == want || (oom == 1 && r == SVAL_BAD_FORMAT));
	else
		FUZZ_CHECK(r == SVAL_OK || r == SVAL_BAD_FORMAT);
	if (n <= MAX_VALUE)
		fuzz_head(v, n, key);
	FUZZ_CHECK(sval_reject_text(r) != NULL);
	if (r != SVAL_OK) {
		FUZZ_CHECK(s == NULL);
		free(copy);
		return;
	}
	FUZZ_CHECK(s != NULL);
	check_snap(s, key, n);
	buf_init(&again, MAX_VALUE);
	FUZZ_CHECK(sval_encode(s, NS, key, fetched, mac_key, &again) == 0);
	FUZZ_CHECK(again.len == n && memcmp(again.data, v, n) == 0);
	buf_release(&again);
	snap_unref(s);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *key;
	int64_t fetched = FETCHED;
	struct buf v;
	unsigned sel;

	if (size < 1 || size > MAX_VALUE)
		return 0;
	sel = data[0];
	key = keys[(sel >> 2) & 3];
	data++;
	size--;
	if ((sel & 3) == 0) {
		fuzz_value(data, size, key, false);
		return 0;
	}
	buf_init(&v, 2 * MAX_VALUE);
	if ((sel & 3) == 3 && size >= 8) {
		size -= 8;
		memcpy(&fetched, data + size, 8);
	}
	if ((sel & 3) >= 2)
		put_head(&v, key, fetched);
	FUZZ_CHECK(buf_add(&v, data, size) == 0);
	seal(&v);
	fuzz_value((const uint8_t *)v.data, v.len, key, true);
	buf_release(&v);
	return 0;
}
