/* fuzz_sval.c — libFuzzer harness for the shared tier's value codec
 * (sval.h), with a fixed namespace and MAC key.
 *
 * Input: one selector byte, then the bytes. The selector's low two bits
 * say what the bytes are: 0 the whole value as read from Redis (only the
 * seed corpus's values carry a right MAC, so this mode tries the checks up
 * to and at the MAC); 1 the value without its MAC, which the harness
 * computes and appends (an authentic value of any contents); 2 and 3 the
 * count and entries alone, behind a header the harness writes for the
 * listing asked for (deep into the entries at once), 3 with a fetch time
 * from the bytes' last 8. The next two bits pick the listing: the
 * repositories, a repository's images (names with '/'), an image's tags,
 * one tag alone. The value is handed over in an allocation of exactly its
 * length, so a read past it is caught.
 *
 * Invariants: a refusal leaves no snapshot; out of memory only as
 * BAD_FORMAT; a value over the cap is TOO_BIG and a short one SHORT
 * whatever they hold; past those, a value is BAD_MAC exactly when its MAC
 * (computed here too) is wrong. A value that decodes has entries in
 * strictly ascending byte order with names listing.c would admit for its
 * kind and texts without control bytes, no more of them than its bytes
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
#define MIN_LEN (8 + 8 + 2 + 4 + SVAL_MAC_LEN)
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

/* "ITFS" 1 0 0 0, the fetch time, the key. */
static void put_head(struct buf *b, const char *key, int64_t fetched)
{
	FUZZ_CHECK(buf_add(b, "ITFS\1\0\0\0", 8) == 0);
	put_le(b, (uint64_t)fetched, 8);
	put_le(b, strlen(key), 2);
	FUZZ_CHECK(buf_add(b, key, strlen(key)) == 0);
}

/* The MAC over NS, a NUL and n bytes at v, computed here. */
static void mac_of(const void *v, size_t n, unsigned char mac[SIGN_SHA256_LEN])
{
	struct buf m;

	buf_init(&m, 2 * MAX_VALUE);
	FUZZ_CHECK(buf_add(&m, NS, sizeof(NS)) == 0);
	FUZZ_CHECK(buf_add(&m, v, n) == 0);
	FUZZ_CHECK(sign_hmac_sha256(mac_key, SVAL_KEY_LEN, m.data, m.len, mac) == 0);
	buf_release(&m);
}

static void seal(struct buf *v)
{
	unsigned char mac[SIGN_SHA256_LEN];

	mac_of(v->data, v->len, mac);
	FUZZ_CHECK(buf_add(v, mac, sizeof(mac)) == 0);
}

/* The value's last SVAL_MAC_LEN bytes are its MAC. */
static bool authentic(const uint8_t *v, size_t n)
{
	unsigned char mac[SIGN_SHA256_LEN];

	if (n < SVAL_MAC_LEN)
		return false;
	mac_of(v, n - SVAL_MAC_LEN, mac);
	return memcmp(mac, v + n - SVAL_MAC_LEN, SVAL_MAC_LEN) == 0;
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

/* Decodes v (n bytes, in an allocation of exactly n) and checks it;
 * sealed: the harness made the MAC. */
static void fuzz_value(const uint8_t *v, size_t n, const char *key, bool sealed)
{
	bool good_mac = authentic(v, n);
	char *copy = fuzz_bytes(v, n);
	struct snap *s = (struct snap *)1;
	int64_t fetched = 0;
	int oom = -1;
	enum sval_reject r = sval_decode(copy, n, MAX_VALUE, NS, key, mac_key, &fetched, &s, &oom);
	struct buf again;

	FUZZ_CHECK(r >= SVAL_OK && r <= SVAL_BAD_FORMAT);
	FUZZ_CHECK(oom == 0 || (oom == 1 && r == SVAL_BAD_FORMAT));
	FUZZ_CHECK((r == SVAL_TOO_BIG) == (n > MAX_VALUE));
	FUZZ_CHECK((r == SVAL_SHORT) == (n < MIN_LEN && n <= MAX_VALUE));
	FUZZ_CHECK(!sealed || good_mac);
	/* Past the length checks, the MAC alone decides BAD_MAC. */
	if (n >= MIN_LEN && n <= MAX_VALUE)
		FUZZ_CHECK((r == SVAL_BAD_MAC) == !good_mac);
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
