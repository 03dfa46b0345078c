/* inode.c — the FUSE layer's inode table (see inode.h).
 *
 * A `find` over a large registry has the kernel hold one inode per name,
 * so an entry must be small and cheap: a 32-byte slot in an open-addressed
 * table with linear probing, keyed by the inode number itself (already a
 * well-mixed hash), grown at 4/5 load (about 3 probes to find an entry,
 * 13 to miss: 32-byte slots, two to a cache line) and deleted by backward shifting,
 * so no tombstones build up under churn. Short names live in the slot;
 * a longer one is one malloc'd copy whose pointer the slot holds.
 */
#include "inode.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define INLINE_NAME 10
#define SALTS 4
#define MIN_SLOTS 1024
#define F_DIR 0x01
#define F_LONG 0x02 /* name[] holds a char * */
#define F_SALT_SHIFT 2
#define PINNED UINT32_MAX /* saturated count: never freed */

struct islot {
	uint64_t ino; /* 0: empty */
	uint64_t parent;
	uint32_t nlookup;
	uint8_t flags;
	uint8_t len;
	char name[INLINE_NAME];
};

_Static_assert(sizeof(struct islot) == 32, "an inode slot is 32 bytes");

struct inode_table {
	pthread_mutex_t mu;		  /* guards the slots and the counts; a leaf */
	unsigned char key[INODE_KEY_LEN]; /* of generations; set before use */
	struct islot *slot;
	size_t mask; /* slots - 1, a power of two minus one */
	size_t count;
	size_t salted; /* live entries that needed a salt */
};

struct inode_table *inode_table_new(void)
{
	struct inode_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slot = calloc(MIN_SLOTS, sizeof(t->slot[0]));
	if (!t->slot || pthread_mutex_init(&t->mu, NULL)) {
		free(t->slot);
		free(t);
		return NULL;
	}
	t->mask = MIN_SLOTS - 1;
	return t;
}

static const char *slot_name(const struct islot *s)
{
	const char *p;

	if (!(s->flags & F_LONG))
		return s->name;
	memcpy(&p, s->name, sizeof(p));
	return p;
}

static void slot_clear(struct islot *s)
{
	if (s->flags & F_LONG)
		free((char *)slot_name(s));
	memset(s, 0, sizeof(*s));
}

void inode_table_free(struct inode_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i <= t->mask; i++)
		if (t->slot[i].ino)
			slot_clear(&t->slot[i]);
	free(t->slot);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* splitmix64's finaliser: spreads FNV's bits over the whole word. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

static uint64_t salted_hash(uint64_t parent, const char *name, bool dir, unsigned salt)
{
	unsigned char le[8], kind = dir ? 'd' : 'f';
	uint64_t h;

	for (int i = 0; i < 8; i++) /* parent's bytes, least significant first */
		le[i] = (unsigned char)(parent >> (8 * i));
	h = hash_fnv64(HASH_FNV64_BASIS, le, sizeof(le));
	h = hash_fnv64_str(h, name);
	h = hash_fnv64(h, &kind, 1);
	h = mix(h + salt);
	return h > INODE_ROOT ? h : h + 2; /* 0 and 1 are taken */
}

uint64_t inode_hash(uint64_t parent, const char *name, bool dir)
{
	return salted_hash(parent, name, dir, 0);
}

/* SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit hash, so that
 * nobody without the key can make two names' generations agree. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                       \
	do {                                                                                                           \
		v0 += v1;                                                                                              \
		v1 = ROTL(v1, 13);                                                                                     \
		v1 ^= v0;                                                                                              \
		v0 = ROTL(v0, 32);                                                                                     \
		v2 += v3;                                                                                              \
		v3 = ROTL(v3, 16);                                                                                     \
		v3 ^= v2;                                                                                              \
		v0 += v3;                                                                                              \
		v3 = ROTL(v3, 21);                                                                                     \
		v3 ^= v0;                                                                                              \
		v2 += v1;                                                                                              \
		v1 = ROTL(v1, 17);                                                                                     \
		v1 ^= v2;                                                                                              \
		v2 = ROTL(v2, 32);                                                                                     \
	} while (0)

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t inode_siphash(const unsigned char key[INODE_KEY_LEN], const void *msg, size_t n)
{
	const unsigned char *in = msg;
	uint64_t k0 = le64(key), k1 = le64(key + 8), b = (uint64_t)n << 56, m;
	uint64_t v0 = 0x736f6d6570736575u ^ k0, v1 = 0x646f72616e646f6du ^ k1;
	uint64_t v2 = 0x6c7967656e657261u ^ k0, v3 = 0x7465646279746573u ^ k1;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < n; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void inode_table_set_key(struct inode_table *t, const unsigned char key[INODE_KEY_LEN])
{
	memcpy(t->key, key, INODE_KEY_LEN);
}

/* The generation of (parent, name, dir): a keyed hash of what the number
 * hashes. Never 0 (the root's). */
static uint32_t generation(const struct inode_table *t, uint64_t parent, const char *name, size_t len, bool dir)
{
	unsigned char msg[8 + 256 + 1];
	uint64_t h;

	for (int i = 0; i < 8; i++)
		msg[i] = (unsigned char)(parent >> (8 * i));
	memcpy(msg + 8, name, len);
	msg[8 + len] = dir ? 'd' : 'f';
	h = inode_siphash(t->key, msg, 8 + len + 1);
	return (uint32_t)(h ^ h >> 32) ? (uint32_t)(h ^ h >> 32) : 1;
}

/* The slot holding ino, or NULL. Lock held. */
static struct islot *find(const struct inode_table *t, uint64_t ino)
{
	for (size_t i = ino & t->mask;; i = (i + 1) & t->mask) {
		if (t->slot[i].ino == ino)
			return &t->slot[i];
		if (!t->slot[i].ino)
			return NULL;
	}
}

static bool same(const struct islot *s, uint64_t parent, const char *name, size_t len, bool dir)
{
	return s->parent == parent && s->len == len && !!(s->flags & F_DIR) == dir &&
	       memcmp(slot_name(s), name, len) == 0;
}

/* Moves the entries into an array of n slots (a power of two that holds
 * them): twice as large at 4/5 load, smaller when the kernel has
 * forgotten most of them, so memory comes back after a drop_caches. */
static int resize(struct inode_table *t, size_t n)
{
	struct islot *old = t->slot, *v = calloc(n, sizeof(*v));

	if (!v)
		return -ENOMEM;
	t->slot = v;
	for (size_t i = 0, m = t->mask; i <= m; i++) {
		size_t j;

		if (!old[i].ino)
			continue;
		for (j = old[i].ino & (n - 1); v[j].ino; j = (j + 1) & (n - 1))
			;
		v[j] = old[i];
	}
	t->mask = n - 1;
	free(old);
	return 0;
}

/* A new slot for ino (absent) holding count lookups; it holds one on its
 * parent in turn. Lock held. */
static int insert(struct inode_table *t, uint64_t ino, uint64_t parent, const char *name, size_t len, bool dir,
		  unsigned salt, uint32_t count)
{
	struct islot *s;
	size_t i;
	char *copy = NULL;

	if ((t->count + 1) * 5 > (t->mask + 1) * 4 && resize(t, (t->mask + 1) * 2))
		return -ENOMEM;
	if (len > INLINE_NAME) {
		copy = malloc(len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, name, len + 1);
	}
	for (i = ino & t->mask; t->slot[i].ino; i = (i + 1) & t->mask)
		;
	s = &t->slot[i];
	s->ino = ino;
	s->parent = parent;
	s->nlookup = count;
	s->len = (uint8_t)len;
	s->flags = (uint8_t)((dir ? F_DIR : 0) | (salt << F_SALT_SHIFT) | (copy ? F_LONG : 0));
	if (copy)
		memcpy(s->name, &copy, sizeof(copy));
	else
		memcpy(s->name, name, len);
	t->count++;
	t->salted += salt > 0;
	if (parent != INODE_ROOT && (s = find(t, parent)) && s->nlookup != PINNED)
		s->nlookup++;
	return 0;
}

static bool known(const struct inode_table *t, uint64_t ino)
{
	return ino == INODE_ROOT || find(t, ino);
}

/* Finds or adds (parent, name) and adds count lookups to it. Lock held. */
static int ref_locked(struct inode_table *t, uint64_t parent, const char *name, bool dir, uint32_t count, uint64_t *ino)
{
	size_t len = strlen(name);
	int free_salt = -1;

	if (len == 0 || len > 255)
		return -ENAMETOOLONG;
	if (!known(t, parent))
		return -ESTALE;
	for (unsigned salt = 0; salt < SALTS; salt++) {
		uint64_t h = salted_hash(parent, name, dir, salt);
		struct islot *s = find(t, h);

		if (s && same(s, parent, name, len, dir)) {
			if (s->nlookup != PINNED)
				s->nlookup = s->nlookup > PINNED - count ? PINNED : s->nlookup + count;
			*ino = h;
			return 0;
		}
		if (!s && free_salt < 0)
			free_salt = (int)salt;
		if (!s && !t->salted)
			break; /* no salted entry lives: nothing further to find */
	}
	if (free_salt < 0)
		return -EOVERFLOW;
	*ino = salted_hash(parent, name, dir, (unsigned)free_salt);
	return insert(t, *ino, parent, name, len, dir, (unsigned)free_salt, count);
}

/* The number (parent, name, dir) has in the table, whatever its salt.
 * Lock held. */
static int find_locked(const struct inode_table *t, uint64_t parent, const char *name, bool dir, uint64_t *ino)
{
	size_t len = strlen(name);

	if (!known(t, parent))
		return -ENOENT;
	for (unsigned salt = 0; salt < SALTS; salt++) {
		uint64_t h = salted_hash(parent, name, dir, salt);
		const struct islot *s = find(t, h);

		if (s && same(s, parent, name, len, dir)) {
			*ino = h;
			return 0;
		}
		if (!s && !t->salted)
			break; /* no salted entry lives: nothing further to find */
	}
	return -ENOENT;
}

int inode_find(struct inode_table *t, uint64_t parent, const char *name, bool dir, uint64_t *ino)
{
	int err;

	pthread_mutex_lock(&t->mu);
	err = find_locked(t, parent, name, dir, ino);
	pthread_mutex_unlock(&t->mu);
	return err;
}

int inode_find_path(struct inode_table *t, const char *path, bool dir, uint64_t *ino)
{
	char comp[256];
	uint64_t at = INODE_ROOT;
	int err = 0;

	pthread_mutex_lock(&t->mu);
	for (const char *p = path + strspn(path, "/"); *p && !err;) {
		size_t n = strcspn(p, "/");
		bool last = !p[n] || !p[n + strspn(p + n, "/")];

		if (n >= sizeof(comp)) {
			err = -ENOENT;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		err = find_locked(t, at, comp, last ? dir : true, &at);
		p += n;
		p += strspn(p, "/");
	}
	pthread_mutex_unlock(&t->mu);
	*ino = at;
	return err;
}

int inode_ref(struct inode_table *t, uint64_t parent, const char *name, bool dir, uint64_t *ino)
{
	int err;

	pthread_mutex_lock(&t->mu);
	err = ref_locked(t, parent, name, dir, 1, ino);
	pthread_mutex_unlock(&t->mu);
	return err;
}

int inode_ref_path(struct inode_table *t, const char *path, bool dir, uint64_t *ino)
{
	char comp[256];
	uint64_t at = INODE_ROOT;
	int err = 0;

	pthread_mutex_lock(&t->mu);
	for (const char *p = path + strspn(path, "/"); *p && !err;) {
		size_t n = strcspn(p, "/");
		bool last = !p[n] || !p[n + strspn(p + n, "/")];

		if (n >= sizeof(comp)) {
			err = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		/* Ancestors are held by their children alone. */
		err = ref_locked(t, at, comp, last ? dir : true, last ? 1 : 0, &at);
		p += n;
		p += strspn(p, "/");
	}
	pthread_mutex_unlock(&t->mu);
	*ino = at;
	return err;
}

/* Deletes slot i and shifts the entries after it back into the gap, so
 * that every probe sequence stays unbroken. Lock held. */
static void delete_at(struct inode_table *t, size_t i)
{
	size_t j = i;

	t->salted -= (t->slot[i].flags >> F_SALT_SHIFT) > 0;
	slot_clear(&t->slot[i]);
	t->count--;
	for (;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (!t->slot[j].ino)
			return;
		home = t->slot[j].ino & t->mask;
		/* Leave j where it is if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slot[i] = t->slot[j];
		memset(&t->slot[j], 0, sizeof(t->slot[j]));
		i = j;
	}
}

/* Takes n lookups from ino; an entry at zero goes, and gives back the one
 * it held on its parent. *was_dir says what the first one was. Lock held. */
static bool release(struct inode_table *t, uint64_t ino, uint64_t n, bool *was_dir)
{
	bool freed = false;

	while (ino != INODE_ROOT && n) {
		struct islot *s = find(t, ino);
		uint64_t parent;

		if (!s || s->nlookup == PINNED)
			break;
		if (n < s->nlookup) {
			s->nlookup -= (uint32_t)n;
			break;
		}
		if (!freed && was_dir)
			*was_dir = s->flags & F_DIR;
		freed = true;
		parent = s->parent;
		delete_at(t, (size_t)(s - t->slot));
		ino = parent;
		n = 1;
	}
	return freed;
}

/* Below 1/16 load, down to 1/4 (growth happens at 4/5: no thrashing). */
static void maybe_shrink(struct inode_table *t)
{
	size_t n = t->mask + 1;

	if (n <= MIN_SLOTS || t->count * 16 >= n)
		return;
	while (n > MIN_SLOTS && t->count * 4 < n / 2)
		n /= 2;
	resize(t, n); /* on -ENOMEM the table just stays large */
}

bool inode_forget(struct inode_table *t, uint64_t ino, uint64_t n, bool *was_dir)
{
	bool freed;

	if (ino == INODE_ROOT || !n)
		return false;
	pthread_mutex_lock(&t->mu);
	freed = release(t, ino, n, was_dir);
	if (freed)
		maybe_shrink(t);
	pthread_mutex_unlock(&t->mu);
	return freed;
}

int inode_parent(struct inode_table *t, uint64_t ino, uint64_t *parent)
{
	const struct islot *s;

	if (ino == INODE_ROOT) {
		*parent = INODE_ROOT;
		return 0;
	}
	pthread_mutex_lock(&t->mu);
	s = find(t, ino);
	if (s)
		*parent = s->parent;
	pthread_mutex_unlock(&t->mu);
	return s ? 0 : -ESTALE;
}

int inode_ref_known(struct inode_table *t, uint64_t ino, bool parent, uint64_t *out, bool *dir)
{
	struct islot *s;
	int err = 0;

	pthread_mutex_lock(&t->mu);
	s = ino == INODE_ROOT ? NULL : find(t, ino);
	if (s && parent) {
		ino = s->parent;
		s = ino == INODE_ROOT ? NULL : find(t, ino);
	}
	if (ino == INODE_ROOT) {
		*out = INODE_ROOT;
		*dir = true;
	} else if (!s) {
		err = -ESTALE;
	} else {
		if (s->nlookup != PINNED)
			s->nlookup++;
		*out = ino;
		*dir = s->flags & F_DIR;
	}
	pthread_mutex_unlock(&t->mu);
	return err;
}

/* Writes the path of s into buf, right-aligned ending at buf + n - 1;
 * *start receives where it begins. -ENAMETOOLONG, or -ESTALE when an
 * ancestor is no longer known (the kernel may forget a directory while a
 * handle-opened child lives). Lock held. */
static int build_path(const struct inode_table *t, const struct islot *s, char *buf, size_t n, char **start)
{
	char *p = buf + n - 1;

	*p = '\0';
	for (;;) {
		size_t len = s->len;

		if ((size_t)(p - buf) < len + 1)
			return -ENAMETOOLONG;
		p -= len;
		memcpy(p, slot_name(s), len);
		*--p = '/';
		if (s->parent == INODE_ROOT)
			break;
		s = find(t, s->parent);
		if (!s)
			return -ESTALE;
	}
	*start = p;
	return 0;
}

int inode_path(struct inode_table *t, uint64_t ino, char *buf, size_t n, bool *dir)
{
	const struct islot *s;
	char *p = NULL;
	int err;

	if (n < 2)
		return -ENAMETOOLONG;
	if (ino == INODE_ROOT) {
		memcpy(buf, "/", 2);
		if (dir)
			*dir = true;
		return 0;
	}
	pthread_mutex_lock(&t->mu);
	s = find(t, ino);
	err = s ? build_path(t, s, buf, n, &p) : -ESTALE;
	if (!err) {
		if (dir)
			*dir = s->flags & F_DIR;
		memmove(buf, p, strlen(p) + 1);
	}
	pthread_mutex_unlock(&t->mu);
	return err;
}

uint32_t inode_generation(struct inode_table *t, uint64_t ino)
{
	const struct islot *s;
	uint32_t g = 0;

	if (ino == INODE_ROOT)
		return 0;
	pthread_mutex_lock(&t->mu);
	s = find(t, ino);
	if (s)
		g = generation(t, s->parent, slot_name(s), s->len, s->flags & F_DIR);
	pthread_mutex_unlock(&t->mu);
	return g;
}

size_t inode_count(struct inode_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->count;
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* Appends slot s to l, growing its arrays (*av items, *an name bytes
 * allocated). 0 or -ENOMEM. */
static int list_add(struct inode_list *l, const struct islot *s, size_t *av, size_t *an, size_t *pos)
{
	struct inode_item *it;

	if (l->n == *av) {
		size_t want = *av ? *av * 2 : 64;
		struct inode_item *v = realloc(l->v, want * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		*av = want;
	}
	if (*pos + s->len + 1u > *an) {
		size_t want = *an ? *an * 2 : 1024;
		char *names = realloc(l->names, want);

		if (!names)
			return -ENOMEM;
		l->names = names;
		*an = want;
	}
	it = &l->v[l->n++];
	it->ino = s->ino;
	it->parent = s->parent;
	it->dir = s->flags & F_DIR;
	it->name_off = (uint32_t)*pos;
	memcpy(l->names + *pos, slot_name(s), s->len);
	l->names[*pos + s->len] = '\0';
	*pos += s->len + 1u;
	return 0;
}

/* Is slot s below parent (0: everywhere): its child, or (deep) anywhere
 * under it? Lock held. */
static bool below(const struct inode_table *t, const struct islot *s, uint64_t parent, bool deep)
{
	if (!parent || s->parent == parent)
		return true;
	/* Every ancestor is in the table (children hold their parents), and
	 * a chain is as deep as the path: a bound, not a loop guard. */
	for (int depth = 0; deep && s->parent != INODE_ROOT && depth < 4096; depth++) {
		s = find(t, s->parent);
		if (!s)
			return false;
		if (s->parent == parent)
			return true;
	}
	return false;
}

/* One pass over the table (the lock is held meanwhile, so every request
 * that needs the table waits for it: with a million names the kernel
 * holds, a pass is some milliseconds). */
int inode_list_get(struct inode_table *t, uint64_t parent, bool deep, struct inode_list *out)
{
	size_t av = 0, an = 0, pos = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i <= t->mask && !err; i++)
		if (t->slot[i].ino && below(t, &t->slot[i], parent, deep))
			err = pos + 256 > UINT32_MAX ? -ENOMEM : list_add(out, &t->slot[i], &av, &an, &pos);
	pthread_mutex_unlock(&t->mu);
	if (err)
		inode_list_release(out);
	return err;
}

void inode_list_release(struct inode_list *l)
{
	free(l->v);
	free(l->names);
	memset(l, 0, sizeof(*l));
}
