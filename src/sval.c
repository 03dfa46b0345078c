/* sval.c — one listing snapshot as a value of the shared tier, and back
 * (sval.h).
 *
 * Anyone who can write to Redis can write a value, so the decoder trusts
 * no byte before the MAC has been checked, and not much after: the MAC
 * says a holder of the fleet's key wrote it, not that the writer was
 * bug-free or of this version. So every length is still checked against
 * the bytes left, every count against what those bytes could hold, and
 * every name gets the check listing.c gives names from the API, since a
 * decoded name becomes a file name just the same. The encoding is
 * canonical (names strictly ascending, a canonical sha256 digest always
 * in binary, has_raw 0 or 1, flags and reserved bytes 0): one snapshot has
 * one encoding, so decoding and encoding again gives back the very bytes
 * (the fuzz harness holds us to that). The encoder refuses what the
 * decoder would, so no member of the fleet writes a value the others
 * throw away.
 */
#include "sval.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listkey.h"
#include "names.h"
#include "sign.h"
#include "text.h"

#define MAGIC "ITFS"
#define MARK_LEN 8			 /* magic, version, flags, u16 0 */
#define FIXED_LEN (MARK_LEN + 8 + 4 + 2) /* and fetched_ms, total, keylen: then the key */
#define TOTAL_AT (MARK_LEN + 8)		 /* where total is */
#define HEAD_LEN(keylen) (FIXED_LEN + (keylen) + SVAL_MAC_LEN)
#define MIN_LEN(keylen) (HEAD_LEN(keylen) + 4 + SVAL_MAC_LEN) /* no entry */
#define ENTRY_MIN (1 + 1 + 1 + 8 + 1)			      /* namelen, a 1-byte name, kind, mtime, has_raw */
#define TEXT_MAX 255					      /* names and texts have a u8 length */
#define KEY_MAX SVAL_KEY_MAX

_Static_assert(SVAL_HEAD_MAX == HEAD_LEN(KEY_MAX), "SVAL_HEAD_MAX is the longest head");

enum digest_kind { DIGEST_NONE, DIGEST_SHA256, DIGEST_TEXT };

_Static_assert(TEXT_MAX + 1 >= SNAP_SHA256_TEXT, "a digest slot holds a formatted sha256");

/* What listing.c lets through from the API: an image listing's names are
 * image names (with '/'), every other listing's are one path component. */
static bool name_ok(const char *key, const char *s, size_t n)
{
	return n <= TEXT_MAX && names_valid_entry(listkey_lists_images(key), s, n);
}

/* A digest or a time text ends up in a tag file: printable, as listing.c
 * makes it (anything else it escapes). */
static bool text_ok(const char *s, size_t n)
{
	return n <= TEXT_MAX && text_printable(s, n);
}

/* v, n bytes, little-endian. */
static int put_le(struct buf *b, uint64_t v, size_t n)
{
	unsigned char x[8];

	for (size_t i = 0; i < n; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	return buf_add(b, x, n);
}

/* A u8 length and the bytes (n <= TEXT_MAX: checked by the caller). */
static int put_str(struct buf *b, const char *s, size_t n)
{
	int err = put_le(b, n, 1);

	return err ? err : buf_add(b, s, n);
}

static int put_digest(struct buf *b, const char *d)
{
	unsigned char bin[SNAP_SHA256_BYTES];
	int err;

	if (!d)
		return put_le(b, DIGEST_NONE, 1);
	if (snap_sha256_parse(d, bin)) {
		err = put_le(b, DIGEST_SHA256, 1);
		return err ? err : buf_add(b, bin, sizeof(bin));
	}
	if (!text_ok(d, strlen(d)))
		return -EINVAL;
	err = put_le(b, DIGEST_TEXT, 1);
	return err ? err : put_str(b, d, strlen(d));
}

static int put_entry(struct buf *b, const char *key, const struct snap_entry *e)
{
	size_t n = strlen(e->name);
	int err;

	if (!name_ok(key, e->name, n) || (e->time_raw && !text_ok(e->time_raw, strlen(e->time_raw))))
		return -EINVAL;
	err = put_str(b, e->name, n);
	if (!err)
		err = put_digest(b, e->digest);
	if (!err)
		err = put_le(b, (uint64_t)e->mtime, 8);
	if (!err)
		err = put_le(b, e->time_raw != NULL, 1);
	if (!err && e->time_raw)
		err = put_str(b, e->time_raw, strlen(e->time_raw));
	return err;
}

/* The head's MAC: over the namespace and ":head", then its bytes. Its own
 * scope keeps it from standing for a value's MAC, or the other way round. */
static int head_mac(const uint8_t mac_key[SVAL_KEY_LEN], const char *ns, const void *head, size_t n,
		    unsigned char mac[SVAL_MAC_LEN])
{
	char scope[256];

	if ((size_t)snprintf(scope, sizeof(scope), "%s:head", ns) >= sizeof(scope))
		return -EINVAL;
	return sign_hmac_sha256_under(mac_key, SVAL_KEY_LEN, scope, head, n, mac);
}

/* The head with total 0 and room for its MAC, both filled in by seal. */
static int put_head(struct buf *b, const char *key, size_t keylen, int64_t fetched_ms)
{
	static const unsigned char mark[MARK_LEN] = {'I', 'T', 'F', 'S', SVAL_VERSION, 0, 0, 0};
	static const unsigned char room[SVAL_MAC_LEN];
	int err = buf_add(b, mark, sizeof(mark));

	if (!err)
		err = put_le(b, (uint64_t)fetched_ms, 8);
	if (!err)
		err = put_le(b, 0, 4);
	if (!err)
		err = put_le(b, keylen, 2);
	if (!err)
		err = buf_add(b, key, keylen);
	if (!err)
		err = buf_add(b, room, sizeof(room));
	return err;
}

/* The value at v (its MAC not yet appended, n bytes so far, with a key of
 * keylen): its total length and the head's MAC written in, then its MAC
 * appended to out. */
static int seal(struct buf *out, size_t start, size_t keylen, const char *ns, const uint8_t mac_key[SVAL_KEY_LEN])
{
	unsigned char *v = (unsigned char *)out->data + start, mac[SVAL_MAC_LEN];
	size_t n = out->len - start, total = n + SVAL_MAC_LEN;
	int err;

	if (total > UINT32_MAX)
		return -EFBIG;
	for (size_t i = 0; i < 4; i++)
		v[TOTAL_AT + i] = (unsigned char)(total >> (8 * i));
	err = head_mac(mac_key, ns, v, FIXED_LEN + keylen, v + FIXED_LEN + keylen);
	if (!err)
		err = sign_hmac_sha256_under(mac_key, SVAL_KEY_LEN, ns, v, n, mac);
	return err ? err : buf_add(out, mac, sizeof(mac));
}

/* The value is appended to out, the head's MAC inside it and its MAC
 * (over the namespace and it) last; out is cut back to where it was on
 * any error. */
int sval_encode(const struct snap *s, const char *ns, const char *key, int64_t fetched_ms,
		const uint8_t mac_key[SVAL_KEY_LEN], struct buf *out)
{
	size_t keylen = strlen(key), count = snap_count(s), start = out->len;
	int err;

	if (keylen > KEY_MAX || count > UINT32_MAX)
		return -EINVAL;
	err = put_head(out, key, keylen, fetched_ms);
	if (!err)
		err = put_le(out, count, 4);
	for (size_t i = 0; i < count && !err; i++) {
		struct snap_entry e;

		snap_get(s, i, &e);
		err = put_entry(out, key, &e);
	}
	if (!err)
		err = seal(out, start, keylen, ns, mac_key);
	if (err)
		buf_truncate(out, start);
	return err;
}

/* The bytes not yet decoded. Every read is checked against left. */
struct reader {
	const unsigned char *p;
	size_t left;
};

static bool get_bytes(struct reader *r, size_t n, const unsigned char **p)
{
	if (r->left < n)
		return false;
	*p = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

/* n bytes (at most 8), little-endian. */
static bool get_le(struct reader *r, size_t n, uint64_t *v)
{
	const unsigned char *p;

	if (!get_bytes(r, n, &p))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v |= (uint64_t)p[i] << (8 * i);
	return true;
}

/* A u8 length and the bytes, as a C string in out (TEXT_MAX + 1 bytes);
 * a NUL among the bytes is refused (it would cut the string short). */
static bool get_str(struct reader *r, char *out, size_t *n)
{
	const unsigned char *p;
	uint64_t len;

	if (!get_le(r, 1, &len) || !get_bytes(r, (size_t)len, &p) || memchr(p, '\0', (size_t)len))
		return false;
	memcpy(out, p, (size_t)len);
	out[len] = '\0';
	*n = (size_t)len;
	return true;
}

/* The digest into out (TEXT_MAX + 1 bytes); *digest is out or NULL. */
static bool get_digest(struct reader *r, char *out, const char **digest)
{
	unsigned char bin[SNAP_SHA256_BYTES];
	const unsigned char *p;
	uint64_t kind;
	size_t n;

	*digest = NULL;
	if (!get_le(r, 1, &kind))
		return false;
	switch (kind) {
	case DIGEST_NONE:
		return true;
	case DIGEST_SHA256:
		if (!get_bytes(r, SNAP_SHA256_BYTES, &p))
			return false;
		snap_sha256_format(p, out);
		break;
	case DIGEST_TEXT:
		/* A canonical sha256 in text would encode back in binary. */
		if (!get_str(r, out, &n) || !text_ok(out, n) || snap_sha256_parse(out, bin))
			return false;
		break;
	default:
		return false;
	}
	*digest = out;
	return true;
}

/* An entry's strings while it is decoded. Names take turns in two slots,
 * so the one before is still there for the order check. */
struct slots {
	char name[2][TEXT_MAX + 1];
	char digest[TEXT_MAX + 1];
	char raw[TEXT_MAX + 1];
};

/* Entry i into e, whose strings point into sl. */
static bool get_entry(struct reader *r, const char *key, struct slots *sl, size_t i, struct snap_entry *e)
{
	char *name = sl->name[i & 1];
	uint64_t mtime, has_raw;
	size_t n;

	if (!get_str(r, name, &n) || !name_ok(key, name, n))
		return false;
	/* Strictly ascending, as snap keeps them: a duplicate would be
	 * dropped by the builder and the value would not be canonical. */
	if (i > 0 && strcmp(sl->name[(i - 1) & 1], name) >= 0)
		return false;
	if (!get_digest(r, sl->digest, &e->digest) || !get_le(r, 8, &mtime) || !get_le(r, 1, &has_raw) || has_raw > 1)
		return false;
	e->name = name;
	e->mtime = (int64_t)mtime;
	e->time_raw = NULL;
	if (has_raw) {
		if (!get_str(r, sl->raw, &n) || !text_ok(sl->raw, n))
			return false;
		e->time_raw = sl->raw;
	}
	return true;
}

static enum sval_reject no_memory(int *oom)
{
	if (oom)
		*oom = 1;
	return SVAL_BAD_FORMAT;
}

/* The count and the entries, which must end exactly where the MAC
 * begins. */
static enum sval_reject get_entries(struct reader *r, const char *key, struct snap **out, int *oom)
{
	enum sval_reject why = SVAL_OK;
	struct snap_builder *b;
	struct slots sl;
	uint64_t count;

	/* A lying count is refused before anything is allocated for it. */
	if (!get_le(r, 4, &count) || count > r->left / ENTRY_MIN)
		return SVAL_BAD_FORMAT;
	b = snap_builder_new();
	if (!b)
		return no_memory(oom);
	for (size_t i = 0; i < count && !why; i++) {
		struct snap_entry e;

		if (!get_entry(r, key, &sl, i, &e))
			why = SVAL_BAD_FORMAT;
		else if (snap_builder_add(b, &e))
			why = no_memory(oom);
	}
	if (!why && r->left)
		why = SVAL_BAD_FORMAT;
	if (why) {
		snap_builder_free(b);
		return why;
	}
	*out = snap_builder_finish(b);
	return *out ? SVAL_OK : no_memory(oom);
}

/* A MAC that cannot be computed (no memory) is not tampering. */
static enum sval_reject mac_matches(int err, const unsigned char *mac, const unsigned char *want, int *oom)
{
	if (err)
		return no_memory(oom);
	return sign_equal(mac, want, SVAL_MAC_LEN) ? SVAL_OK : SVAL_BAD_MAC;
}

/* The version is read first, unauthenticated (where the head ends
 * depends on it: any other is refused either way); the key only once the
 * head's MAC has vouched for it, so an authentic value of another listing
 * is BAD_KEY, not BAD_MAC. */
enum sval_reject sval_check_head(const void *v, size_t n, size_t max, const char *ns, const char *key,
				 const uint8_t mac_key[SVAL_KEY_LEN], int64_t *fetched_ms, size_t *total, int *oom)
{
	const unsigned char *p = v;
	unsigned char mac[SVAL_MAC_LEN];
	struct reader r = {.p = v, .left = n};
	const unsigned char *mark, *k;
	uint64_t t, len, keylen;
	enum sval_reject why;

	if (oom)
		*oom = 0;
	if (n < MARK_LEN) /* an empty or cut value is SHORT, whatever its version */
		return SVAL_SHORT;
	/* Flags or reserved bytes set: a later writer's feature. */
	if (!get_bytes(&r, MARK_LEN, &mark) || memcmp(mark, MAGIC, 4) != 0 || mark[4] != SVAL_VERSION || mark[5] ||
	    mark[6] || mark[7])
		return SVAL_BAD_VERSION;
	if (!get_le(&r, 8, &t) || !get_le(&r, 4, &len) || !get_le(&r, 2, &keylen) || n < HEAD_LEN(keylen) ||
	    !get_bytes(&r, (size_t)keylen, &k))
		return SVAL_SHORT;
	why = mac_matches(head_mac(mac_key, ns, p, FIXED_LEN + keylen, mac), mac, p + FIXED_LEN + keylen, oom);
	if (why)
		return why;
	if (keylen != strlen(key) || memcmp(k, key, (size_t)keylen) != 0)
		return SVAL_BAD_KEY;
	if (len < MIN_LEN(keylen))
		return SVAL_BAD_FORMAT;
	if (len > max)
		return SVAL_TOO_BIG;
	*fetched_ms = (int64_t)t;
	*total = (size_t)len;
	return SVAL_OK;
}

enum sval_reject sval_decode(const void *v, size_t n, size_t max, const char *ns, const char *key,
			     const uint8_t mac_key[SVAL_KEY_LEN], int64_t *fetched_ms, struct snap **out, int *oom)
{
	const unsigned char *p = v;
	unsigned char mac[SVAL_MAC_LEN];
	struct reader r;
	enum sval_reject why;
	int64_t fetched = 0;
	size_t total = 0, head;

	*out = NULL;
	if (oom)
		*oom = 0;
	if (n > max)
		return SVAL_TOO_BIG;
	why = sval_check_head(v, n, max, ns, key, mac_key, &fetched, &total, oom);
	if (why)
		return why;
	if (n != total) /* cut short or lengthened: not the value the head is of */
		return SVAL_BAD_MAC;
	why = mac_matches(sign_hmac_sha256_under(mac_key, SVAL_KEY_LEN, ns, p, n - SVAL_MAC_LEN, mac), mac,
			  p + n - SVAL_MAC_LEN, oom);
	if (why)
		return why;
	head = HEAD_LEN(strlen(key));
	r = (struct reader){.p = p + head, .left = n - head - SVAL_MAC_LEN};
	why = get_entries(&r, key, out, oom);
	if (!why)
		*fetched_ms = fetched;
	return why;
}

const char *sval_reject_text(enum sval_reject r)
{
	switch (r) {
	case SVAL_OK:
		return "ok";
	case SVAL_SHORT:
		return "too short";
	case SVAL_TOO_BIG:
		return "too big";
	case SVAL_BAD_MAC:
		return "bad MAC";
	case SVAL_BAD_VERSION:
		return "unknown version";
	case SVAL_BAD_KEY:
		return "another listing's key";
	case SVAL_BAD_FORMAT:
		return "bad format";
	}
	return "unknown reason";
}
