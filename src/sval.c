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
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "sign.h"
#include "text.h"

#define MAGIC "ITFS"
#define HEAD_LEN 8			 /* magic, version, flags, u16 0 */
#define FIXED_LEN (HEAD_LEN + 8 + 2 + 4) /* and fetched_ms, keylen, count */
#define MIN_LEN (FIXED_LEN + SVAL_MAC_LEN)
#define ENTRY_MIN (1 + 1 + 1 + 8 + 1) /* namelen, a 1-byte name, kind, mtime, has_raw */
#define TEXT_MAX 255		      /* names and texts have a u8 length */
#define KEY_MAX 65535

enum digest_kind { DIGEST_NONE, DIGEST_SHA256, DIGEST_TEXT };

_Static_assert(TEXT_MAX + 1 >= SNAP_SHA256_TEXT, "a digest slot holds a formatted sha256");

/* What listing.c lets through from the API: an image listing's names are
 * image names (with '/'), every other listing's are one path component. */
static bool name_ok(const char *key, const char *s, size_t n)
{
	return n <= TEXT_MAX && names_valid_entry(key[0] == 'I', s, n);
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

static int put_head(struct buf *b, const char *key, size_t keylen, int64_t fetched_ms, size_t count)
{
	static const unsigned char head[HEAD_LEN] = {'I', 'T', 'F', 'S', SVAL_VERSION, 0, 0, 0};
	int err = buf_add(b, head, sizeof(head));

	if (!err)
		err = put_le(b, (uint64_t)fetched_ms, 8);
	if (!err)
		err = put_le(b, keylen, 2);
	if (!err)
		err = buf_add(b, key, keylen);
	if (!err)
		err = put_le(b, count, 4);
	return err;
}

/* The value is appended to out, its MAC (over the namespace and it) last;
 * out is cut back to where it was on any error. */
int sval_encode(const struct snap *s, const char *ns, const char *key, int64_t fetched_ms,
		const uint8_t mac_key[SVAL_KEY_LEN], struct buf *out)
{
	size_t keylen = strlen(key), count = snap_count(s), start = out->len;
	unsigned char mac[SVAL_MAC_LEN];
	int err;

	if (keylen > KEY_MAX || count > UINT32_MAX)
		return -EINVAL;
	err = put_head(out, key, keylen, fetched_ms, count);
	for (size_t i = 0; i < count && !err; i++) {
		struct snap_entry e;

		snap_get(s, i, &e);
		err = put_entry(out, key, &e);
	}
	if (!err)
		err = sign_hmac_sha256_under(mac_key, SVAL_KEY_LEN, ns, out->data + start, out->len - start, mac);
	if (!err)
		err = buf_add(out, mac, sizeof(mac));
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

/* The key is read only once the MAC has vouched for it: an authentic
 * value of another listing is BAD_KEY, not BAD_MAC. */
static enum sval_reject get_head(struct reader *r, const char *key, int64_t *fetched_ms)
{
	const unsigned char *head, *k;
	uint64_t t, keylen;

	/* Flags or reserved bytes set: a later writer's feature. */
	if (!get_bytes(r, HEAD_LEN, &head) || memcmp(head, MAGIC, 4) != 0 || head[4] != SVAL_VERSION || head[5] ||
	    head[6] || head[7])
		return SVAL_BAD_VERSION;
	if (!get_le(r, 8, &t) || !get_le(r, 2, &keylen) || !get_bytes(r, (size_t)keylen, &k))
		return SVAL_BAD_FORMAT;
	if (keylen != strlen(key) || memcmp(k, key, (size_t)keylen) != 0)
		return SVAL_BAD_KEY;
	*fetched_ms = (int64_t)t;
	return SVAL_OK;
}

/* A MAC that cannot be computed (no memory) is not tampering. */
static enum sval_reject check_mac(const unsigned char *v, size_t n, const char *ns, const uint8_t mac_key[SVAL_KEY_LEN],
				  int *oom)
{
	size_t body = n - SVAL_MAC_LEN;
	unsigned char mac[SVAL_MAC_LEN];

	if (sign_hmac_sha256_under(mac_key, SVAL_KEY_LEN, ns, v, body, mac))
		return no_memory(oom);
	return sign_equal(mac, v + body, SVAL_MAC_LEN) ? SVAL_OK : SVAL_BAD_MAC;
}

enum sval_reject sval_decode(const void *v, size_t n, size_t max, const char *ns, const char *key,
			     const uint8_t mac_key[SVAL_KEY_LEN], int64_t *fetched_ms, struct snap **out, int *oom)
{
	struct reader r;
	enum sval_reject why;
	int64_t fetched = 0;

	*out = NULL;
	if (oom)
		*oom = 0;
	if (n > max)
		return SVAL_TOO_BIG;
	if (n < MIN_LEN)
		return SVAL_SHORT;
	r = (struct reader){.p = v, .left = n - SVAL_MAC_LEN};
	why = check_mac(v, n, ns, mac_key, oom);
	if (!why)
		why = get_head(&r, key, &fetched);
	if (!why)
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
