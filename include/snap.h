/* snap.h — an immutable snapshot of one directory listing: entries sorted
 * by name in byte order, packed in one allocation (no per-entry malloc),
 * found by binary search. Reference-counted so a reader keeps a snapshot
 * alive while the cache replaces it.
 *
 * Build with a builder (not thread-safe), then share the snap freely:
 * snap_ref/snap_unref and the mark are atomic, everything else only reads
 * (its owner sets born and ctimes before sharing it).
 */
#ifndef IMGTAGFS_SNAP_H
#define IMGTAGFS_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* mtime when the time could not be parsed (time_raw then holds it). */
#define SNAP_NO_TIME INT64_MIN

/* "sha256:" and 64 hex digits, and a NUL; the 32 bytes they stand for. */
#define SNAP_SHA256_TEXT 72
#define SNAP_SHA256_BYTES 32

#define SNAP_BORN_NONE INT64_MAX

struct snap_entry {
	const char *name;
	const char *digest;   /* NULL when none */
	const char *time_raw; /* the unparsed time text, or NULL */
	int64_t mtime;	      /* Unix seconds or SNAP_NO_TIME */
	/* snap_get: the entry's last status change (Unix seconds): mtime,
	 * unless the snapshot's owner recorded another (snap_set_ctimes).
	 * Ignored by snap_builder_add. */
	int64_t ctime;
	/* snap_get's storage for a digest kept in binary: digest may point
	 * here, so an entry filled by snap_get is not to be copied by value
	 * past the copy's own use. */
	char digest_text[SNAP_SHA256_TEXT];
};

struct snap_builder;
struct snap;

/* NULL on -ENOMEM. snap_builder_free(NULL) is a no-op. */
struct snap_builder *snap_builder_new(void);
void snap_builder_free(struct snap_builder *b);
/* Copies e's strings. A later entry of the same name replaces an earlier
 * one. 0 or -ENOMEM. */
int snap_builder_add(struct snap_builder *b, const struct snap_entry *e);
/* Sorts, de-duplicates and packs; consumes b in every case. The snap
 * starts with one reference. NULL on -ENOMEM. */
struct snap *snap_builder_finish(struct snap_builder *b);

struct snap *snap_ref(struct snap *s);
/* Drops a reference; frees at zero. NULL is a no-op. */
void snap_unref(struct snap *s);

size_t snap_count(const struct snap *s);
/* Entry i (< snap_count). The strings live as long as s (the digest, when
 * s keeps it in binary, as long as out). A digest "sha256:" + 64
 * lower-case hex digits is kept as its 32 bytes and formatted here;
 * any other form is kept as given. */
void snap_get(const struct snap *s, size_t i, struct snap_entry *out);
/* Index of name, or -1. */
long snap_find(const struct snap *s, const char *name);
/* Index of the first entry whose name is >= key (snap_count if none). */
size_t snap_lower_bound(const struct snap *s, const char *key);
/* The one digest form a snapshot keeps in binary: "sha256:" and 64
 * lower-case hex digits into its 32 bytes; false for any other text
 * (which is kept as given). Codecs of snapshots (sval.c) use these two so
 * that they agree with snap_get on which digests are binary. */
bool snap_sha256_parse(const char *s, unsigned char out[SNAP_SHA256_BYTES]);
/* The inverse: the text and a NUL. */
void snap_sha256_format(const unsigned char bin[SNAP_SHA256_BYTES], char out[SNAP_SHA256_TEXT]);
/* Bytes of memory the snapshot holds (for the cache's budget). */
size_t snap_bytes(const struct snap *s);

/* When the fill that produced s sent its first request (fresh.h's clock);
 * SNAP_BORN_NONE until set.
 * Set once by the cache before it shares s (snap_set_born is not
 * thread-safe: only the owner of the single reference may call it). */
int64_t snap_born(const struct snap *s);
void snap_set_born(struct snap *s, int64_t born_ms);
/* The listing moved while it was paged and could not be verified
 * (pages.h): a name it lacks may exist. Set once, like the born time, by
 * the owner of the single reference before s is shared. */
bool snap_unsure(const struct snap *s);
void snap_set_unsure(struct snap *s);
/* A status change recorded for entry i (< snap_count) of a snapshot: the
 * time its owner noticed the entry's bytes change while its mtime stayed
 * (tree.c). Entries without one have ctime == mtime. */
struct snap_ctime {
	size_t i;
	int64_t ctime;
};
/* Records v (n of them, any order, each i once; copied) as s's ctimes,
 * before s is shared (as snap_set_born). Counted in snap_bytes. 0 or
 * -ENOMEM (s then keeps none). */
int snap_set_ctimes(struct snap *s, const struct snap_ctime *v, size_t n);
/* A flag for the owner of a listing's key, set on a shared snapshot
 * (atomic): the tree sets it when a tag of the listing was answered alone
 * with other bytes since (tree.c). */
void snap_mark(struct snap *s);
bool snap_marked(struct snap *s);

/* A hash of everything s lists (names, digests, times): two snapshots of
 * one listing with the same version show the same bytes. Never 0. */
uint32_t snap_version(const struct snap *s);

#endif
