/* sval.h — one listing as a value of the shared tier (Redis): a snapshot
 * with what is needed to trust it, in a compact binary form.
 *
 *	"ITFS" u8 version(2) u8 flags(0) u16 0
 *	i64 fetched_ms		when the fill that made it sent its first
 *				request, on the fleet's clock (tier.c)
 *	u32 total		the value's length, both MACs included
 *	u16 keylen, key		the listing's cache key (listkey.h)
 *	32 bytes		the head's MAC: HMAC-SHA256 under the fleet's
 *				key over the namespace and ":head", a NUL,
 *				and every byte above
 *	u32 count, entries	per entry: u8 namelen, name; u8 digest kind
 *				(0 none, 1 sha256 as 32 bytes, 2 text: u8
 *				len, text); i64 mtime; u8 has_raw [u8 len, raw]
 *	32 bytes		the MAC: HMAC-SHA256 under the fleet's key
 *				over the namespace, a NUL, and every byte above
 * Integers little-endian. The MAC binds the namespace, the key and the
 * fetch time, so a value cannot be moved to another listing or another
 * namespace, nor made younger; a writer to Redis without the key can only
 * make a value fail its checks.
 *
 * The head, authenticated on its own, says how long the value is before
 * the rest is read: anyone who can write to Redis can store 60 MiB under a
 * listing's key, and a reader that read a value whole before checking it
 * held it three times over (the reply buffer, the reply, its copy) on
 * each of its connections. A reader reads the head first (at most
 * SVAL_HEAD_MAX bytes), checks it, and reads no more than the length it
 * vouches for: as much as the real listing of that key was, at most.
 * Pure functions: thread-safe.
 */
#ifndef IMGTAGFS_SVAL_H
#define IMGTAGFS_SVAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "snap.h"

#define SVAL_VERSION 2
#define SVAL_KEY_LEN 32 /* the MAC key */
#define SVAL_MAC_LEN 32
#define SVAL_KEY_MAX 65535 /* a key's length is a u16 */
/* The most bytes the head of any value takes: read this much first. */
#define SVAL_HEAD_MAX (8 + 8 + 4 + 2 + SVAL_KEY_MAX + SVAL_MAC_LEN)

/* Why a value was refused (for the log's one line and the stats). */
enum sval_reject {
	SVAL_OK = 0,
	SVAL_SHORT,	  /* shorter than its head, or than a head and a MAC */
	SVAL_TOO_BIG,	  /* over the caller's cap */
	SVAL_BAD_MAC,	  /* MAC mismatch: tampered, other key or namespace; or a
			     length other than its authentic head says */
	SVAL_BAD_VERSION, /* not "ITFS" version 2 with flags 0 (checked first:
			     the head's layout depends on it) */
	SVAL_BAD_KEY,	  /* authentic head, but of another listing */
	SVAL_BAD_FORMAT	  /* authentic, but does not decode (a bad name...) */
};

/* Appends the value of s (listing key, fetched at fetched_ms) to out
 * (whose cap bounds it); out is unchanged on error. 0, -ENOMEM, -EFBIG
 * (out's cap), -EIO (the MAC failed), -EINVAL: a name, digest text or
 * time text longer than 255 bytes (a u8 length), a key longer than 65535,
 * or anything sval_decode would refuse (a name listing.c would not admit
 * for this key's kind, a digest or time text that text.h would not show
 * as it is), so that nothing is shared that the fleet would throw away.
 * ns and key are C strings. */
int sval_encode(const struct snap *s, const char *ns, const char *key, int64_t fetched_ms,
		const uint8_t mac_key[SVAL_KEY_LEN], struct buf *out);
/* Checks the head of a value: v holds its first n bytes (read up to
 * SVAL_HEAD_MAX of them; fewer is SVAL_SHORT when the head does not fit).
 * Version (flags or reserved bytes other than 0 count as another
 * version), the head's MAC (constant time), the key, and the length it
 * says: SVAL_TOO_BIG over max, SVAL_BAD_FORMAT shorter than a value can
 * be. On SVAL_OK, *total is the value's length and *fetched_ms its fetch
 * time, both vouched for by the fleet's key (the rest is not checked
 * yet); other answers leave them untouched. A MAC that cannot be computed
 * (no memory) is SVAL_BAD_FORMAT with *oom set to 1 (oom may be NULL). */
enum sval_reject sval_check_head(const void *v, size_t n, size_t max, const char *ns, const char *key,
				 const uint8_t mac_key[SVAL_KEY_LEN], int64_t *fetched_ms, size_t *total, int *oom);
/* Checks and decodes v (n bytes): the size cap max first, then the head
 * as sval_check_head (n must be the length it says), the MAC (constant
 * time), and the contents. Contents are
 * the canonical form sval_encode writes (names strictly ascending, each
 * admitted as listing.c admits names of this key's kind; a canonical
 * sha256 digest only in binary; texts printable (text.h); nothing after
 * the entries), so a value that decodes encodes back to the same bytes.
 * On SVAL_OK, *out holds a new snapshot (one reference, not yet dated:
 * snap_set_born is the caller's) and *fetched_ms its fetch time. Any
 * other answer leaves *out NULL and *fetched_ms untouched. -ENOMEM (or a
 * MAC that could not be computed) is answered as SVAL_BAD_FORMAT with
 * *oom set to 1, so the caller does not count it as tampering; *oom is 0
 * otherwise (oom may be NULL). */
enum sval_reject sval_decode(const void *v, size_t n, size_t max, const char *ns, const char *key,
			     const uint8_t mac_key[SVAL_KEY_LEN], int64_t *fetched_ms, struct snap **out, int *oom);
/* "bad MAC" etc., for a log line. */
const char *sval_reject_text(enum sval_reject r);

#endif
