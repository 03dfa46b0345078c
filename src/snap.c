/* snap.c — immutable, reference-counted directory snapshots.
 *
 * A registry may hold tens of thousands of tags per image and the cache
 * keeps many listings at once, so a snapshot is one allocation: a header,
 * an array of fixed-size records sorted by name, and a string area the
 * records point into by 32-bit offsets. A typical tag then costs its record
 * (24 bytes) plus its strings, and freeing a listing is one free(). The
 * builder is the only mutable part; it collects copies in an arena and
 * does the sort, the de-duplication and the packing once, in finish.
 */
#include "snap.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define NO_OFF UINT32_MAX /* in a packed record: no string */
#define NO_BOFF SIZE_MAX  /* in the builder: no string */

/* digest_off with this bit: 32 bytes of a sha256 digest at the offset. */
#define BIN_DIGEST 0x80000000u
#define SHA256_PREFIX "sha256:"
#define SHA256_BYTES SNAP_SHA256_BYTES

/* One packed entry; offsets are into the string area. */
struct snap_rec {
	uint32_t name_off;
	uint32_t digest_off; /* NO_OFF when none; BIN_DIGEST: binary */
	uint32_t raw_off;    /* NO_OFF when none */
	int64_t mtime;
};

struct snap {
	atomic_size_t refs;
	size_t count;
	size_t bytes;	  /* the whole allocation */
	int64_t born;	  /* see snap_born */
	uint32_t version; /* see snap_version */
	bool unsure;	  /* see snap_unsure */
	atomic_bool mark; /* see snap_mark */
	/* The entries whose ctime is not their mtime, sorted by index: only
	 * tags re-pushed within their second have one, so a listing pays for
	 * this per change, not per entry. */
	struct snap_ctime *ctimes;
	size_t nctimes;
	struct snap_rec rec[];
	/* followed by the string area */
};

/* An entry while building; offsets are into the builder's arena. */
struct bentry {
	const char *key; /* set in finish, once the arena stops moving */
	size_t seq;	 /* order of addition: the last of a name wins */
	size_t name, digest, raw;
	bool bin; /* digest holds SHA256_BYTES bytes, not a string */
	int64_t mtime;
};

struct snap_builder {
	struct bentry *v;
	size_t n, alloc;
	char *arena;
	size_t used, cap;
};

struct snap_builder *snap_builder_new(void)
{
	return calloc(1, sizeof(struct snap_builder));
}

void snap_builder_free(struct snap_builder *b)
{
	if (!b)
		return;
	free(b->v);
	free(b->arena);
	free(b);
}

/* Makes room for extra more arena bytes. */
static int arena_reserve(struct snap_builder *b, size_t extra)
{
	size_t want = b->cap ? b->cap : 1024;
	char *p;

	if (extra > SIZE_MAX / 2 - b->used)
		return -ENOMEM;
	if (b->used + extra <= b->cap)
		return 0;
	while (want < b->used + extra)
		want *= 2;
	p = realloc(b->arena, want);
	if (!p)
		return -ENOMEM;
	b->arena = p;
	b->cap = want;
	return 0;
}

/* Copies s (with its NUL) into the arena; *off receives its offset, or
 * NO_BOFF for NULL. */
static int arena_add(struct snap_builder *b, const char *s, size_t *off)
{
	size_t len;
	int err;

	*off = NO_BOFF;
	if (!s)
		return 0;
	len = strlen(s) + 1;
	err = arena_reserve(b, len);
	if (err)
		return err;
	memcpy(b->arena + b->used, s, len);
	*off = b->used;
	b->used += len;
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Upper case is not canonical: it is kept as given, so it reads back as
 * given. */
bool snap_sha256_parse(const char *s, unsigned char out[SNAP_SHA256_BYTES])
{
	size_t pl = strlen(SHA256_PREFIX);

	if (strncmp(s, SHA256_PREFIX, pl) != 0 || strlen(s) != pl + 2 * SHA256_BYTES)
		return false;
	for (size_t i = 0; i < SHA256_BYTES; i++) {
		int hi = hexval(s[pl + 2 * i]), lo = hexval(s[pl + 2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

void snap_sha256_format(const unsigned char bin[SNAP_SHA256_BYTES], char out[SNAP_SHA256_TEXT])
{
	static const char hex[] = "0123456789abcdef";
	size_t pl = strlen(SHA256_PREFIX);

	memcpy(out, SHA256_PREFIX, pl);
	for (size_t i = 0; i < SHA256_BYTES; i++) {
		out[pl + 2 * i] = hex[bin[i] >> 4];
		out[pl + 2 * i + 1] = hex[bin[i] & 15];
	}
	out[pl + 2 * SHA256_BYTES] = '\0';
}

/* The digest into the arena: binary when it is a canonical sha256. */
static int digest_add(struct snap_builder *b, const char *d, size_t *off, bool *bin)
{
	unsigned char raw[SHA256_BYTES];
	int err;

	*bin = d && snap_sha256_parse(d, raw);
	if (!*bin)
		return arena_add(b, d, off);
	err = arena_reserve(b, SHA256_BYTES);
	if (err)
		return err;
	memcpy(b->arena + b->used, raw, SHA256_BYTES);
	*off = b->used;
	b->used += SHA256_BYTES;
	return 0;
}

static int entries_reserve(struct snap_builder *b)
{
	size_t want;
	struct bentry *p;

	if (b->n < b->alloc)
		return 0;
	want = b->alloc ? b->alloc * 2 : 64;
	if (want > SIZE_MAX / sizeof(*p))
		return -ENOMEM;
	p = realloc(b->v, want * sizeof(*p));
	if (!p)
		return -ENOMEM;
	b->v = p;
	b->alloc = want;
	return 0;
}

int snap_builder_add(struct snap_builder *b, const struct snap_entry *e)
{
	size_t mark = b->used;
	struct bentry *be;
	int err;

	if (!e->name)
		return -EINVAL;
	err = entries_reserve(b);
	if (err)
		return err;
	be = &b->v[b->n];
	err = arena_add(b, e->name, &be->name);
	if (!err)
		err = digest_add(b, e->digest, &be->digest, &be->bin);
	if (!err)
		err = arena_add(b, e->time_raw, &be->raw);
	if (err) {
		b->used = mark; /* forget the partial copy */
		return err;
	}
	be->key = NULL;
	be->seq = b->n++;
	be->mtime = e->mtime;
	return 0;
}

/* Byte order of names; equal names in order of addition. */
static int bentry_cmp(const void *pa, const void *pb)
{
	const struct bentry *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);

	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sorts and keeps the last added of each name at the front of b->v;
 * returns how many are kept. */
static size_t sort_dedup(struct snap_builder *b)
{
	size_t kept = 0;

	for (size_t i = 0; i < b->n; i++)
		b->v[i].key = b->arena + b->v[i].name;
	if (b->n > 1)
		qsort(b->v, b->n, sizeof(b->v[0]), bentry_cmp);
	for (size_t i = 0; i < b->n; i++) {
		if (i + 1 < b->n && !strcmp(b->v[i].key, b->v[i + 1].key))
			continue; /* a later one of this name follows */
		b->v[kept++] = b->v[i];
	}
	return kept;
}

/* Bytes the kept entries' strings need in the packed area. */
static int string_bytes(const struct snap_builder *b, size_t kept, size_t *out)
{
	size_t total = 0;

	for (size_t i = 0; i < kept; i++) {
		const struct bentry *e = &b->v[i];
		const size_t offs[3] = {e->name, e->digest, e->raw};

		for (int k = 0; k < 3; k++)
			if (k == 1 && e->bin)
				total += SHA256_BYTES;
			else if (offs[k] != NO_BOFF)
				total += strlen(b->arena + offs[k]) + 1;
		/* Offsets are 31-bit: BIN_DIGEST and NO_OFF are reserved. */
		if (total >= BIN_DIGEST)
			return -ENOMEM;
	}
	*out = total;
	return 0;
}

/* Copies arena string off to the string area at *pos; returns its offset. */
static uint32_t pack_str(const struct snap_builder *b, size_t off, char *area, size_t *pos)
{
	size_t len, at = *pos;

	if (off == NO_BOFF)
		return NO_OFF;
	len = strlen(b->arena + off) + 1;
	memcpy(area + at, b->arena + off, len);
	*pos += len;
	return (uint32_t)at;
}

/* FNV-1a, 32-bit: a change detector, not a defence (see snap.h). */
static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	return hash_fnv32(h, p, n);
}

static uint32_t fnv_str(uint32_t h, const char *s)
{
	/* NULL and "" differ: the length byte of "" is 0, NULL adds 0xff. */
	if (!s)
		return fnv(h, "\xff", 1);
	return fnv(h, s, strlen(s) + 1);
}

static uint32_t entry_hash(uint32_t h, const struct snap_entry *e)
{
	h = fnv_str(h, e->name);
	h = fnv_str(h, e->digest);
	h = fnv_str(h, e->time_raw);
	return fnv(h, &e->mtime, sizeof(e->mtime));
}

static uint32_t listing_version(const struct snap *s)
{
	uint32_t h = HASH_FNV32_BASIS;
	struct snap_entry e;

	for (size_t i = 0; i < s->count; i++) {
		snap_get(s, i, &e);
		h = entry_hash(h, &e);
	}
	return h ? h : 1;
}

static uint32_t pack_bin(const struct snap_builder *b, size_t off, char *area, size_t *pos)
{
	size_t at = *pos;

	memcpy(area + at, b->arena + off, SHA256_BYTES);
	*pos += SHA256_BYTES;
	return (uint32_t)at | BIN_DIGEST;
}

struct snap *snap_builder_finish(struct snap_builder *b)
{
	struct snap *s = NULL;
	size_t kept, strs, total, pos = 0;
	char *area;

	if (!b)
		return NULL;
	kept = sort_dedup(b);
	if (string_bytes(b, kept, &strs) || kept > (SIZE_MAX - sizeof(*s) - strs) / sizeof(s->rec[0]))
		goto out;
	total = sizeof(*s) + kept * sizeof(s->rec[0]) + strs;
	s = malloc(total);
	if (!s)
		goto out;
	atomic_init(&s->refs, 1);
	s->count = kept;
	s->bytes = total;
	area = (char *)(s->rec + kept);
	for (size_t i = 0; i < kept; i++) {
		s->rec[i].name_off = pack_str(b, b->v[i].name, area, &pos);
		s->rec[i].digest_off =
		    b->v[i].bin ? pack_bin(b, b->v[i].digest, area, &pos) : pack_str(b, b->v[i].digest, area, &pos);
		s->rec[i].raw_off = pack_str(b, b->v[i].raw, area, &pos);
		s->rec[i].mtime = b->v[i].mtime;
	}
	s->born = SNAP_BORN_NONE;
	s->unsure = false;
	atomic_init(&s->mark, false);
	s->ctimes = NULL;
	s->nctimes = 0;
	s->version = listing_version(s);
out:
	snap_builder_free(b);
	return s;
}

struct snap *snap_ref(struct snap *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void snap_unref(struct snap *s)
{
	if (!s)
		return;
	/* Release our writes and, for the last owner, acquire everyone's
	 * before free (acq_rel rather than a separate fence, which TSan does
	 * not model). */
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
		free(s->ctimes);
		free(s);
	}
}

size_t snap_count(const struct snap *s)
{
	return s->count;
}

static const char *str_at(const struct snap *s, uint32_t off)
{
	return off == NO_OFF ? NULL : (const char *)(s->rec + s->count) + off;
}

/* Entry i's recorded ctime, else its mtime. */
static int64_t ctime_of(const struct snap *s, size_t i)
{
	size_t lo = 0, hi = s->nctimes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ctimes[mid].i < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nctimes && s->ctimes[lo].i == i ? s->ctimes[lo].ctime : s->rec[i].mtime;
}

void snap_get(const struct snap *s, size_t i, struct snap_entry *out)
{
	const struct snap_rec *r = &s->rec[i];

	out->name = str_at(s, r->name_off);
	if (r->digest_off != NO_OFF && (r->digest_off & BIN_DIGEST)) {
		snap_sha256_format((const unsigned char *)str_at(s, r->digest_off & ~BIN_DIGEST), out->digest_text);
		out->digest = out->digest_text;
	} else {
		out->digest = str_at(s, r->digest_off);
	}
	out->time_raw = str_at(s, r->raw_off);
	out->mtime = r->mtime;
	out->ctime = s->nctimes ? ctime_of(s, i) : r->mtime;
}

size_t snap_lower_bound(const struct snap *s, const char *key)
{
	size_t lo = 0, hi = s->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(str_at(s, s->rec[mid].name_off), key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long snap_find(const struct snap *s, const char *name)
{
	size_t i = snap_lower_bound(s, name);

	if (i < s->count && !strcmp(str_at(s, s->rec[i].name_off), name))
		return (long)i;
	return -1;
}

size_t snap_bytes(const struct snap *s)
{
	return s->bytes;
}

bool snap_unsure(const struct snap *s)
{
	return s->unsure;
}

void snap_set_unsure(struct snap *s)
{
	s->unsure = true;
}

int64_t snap_born(const struct snap *s)
{
	return s->born;
}

void snap_set_born(struct snap *s, int64_t born_ms)
{
	s->born = born_ms;
}

uint32_t snap_version(const struct snap *s)
{
	return s->version;
}

static int ctime_cmp(const void *pa, const void *pb)
{
	const struct snap_ctime *a = pa, *b = pb;

	return a->i < b->i ? -1 : a->i > b->i;
}

int snap_set_ctimes(struct snap *s, const struct snap_ctime *v, size_t n)
{
	struct snap_ctime *copy = NULL;

	if (n && !(copy = malloc(n * sizeof(*copy))))
		return -ENOMEM;
	if (n) {
		memcpy(copy, v, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), ctime_cmp);
	}
	s->bytes -= s->nctimes * sizeof(*s->ctimes);
	free(s->ctimes);
	s->ctimes = copy;
	s->nctimes = n;
	s->bytes += n * sizeof(*copy);
	return 0;
}

void snap_mark(struct snap *s)
{
	atomic_store_explicit(&s->mark, true, memory_order_relaxed);
}

bool snap_marked(struct snap *s)
{
	return atomic_load_explicit(&s->mark, memory_order_relaxed);
}
