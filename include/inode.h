/* inode.h — the inode table of the FUSE layer: which inode numbers the
 * kernel holds, how many lookups it holds on each, and the path behind
 * each number.
 *
 * The inode number is a function of the path alone (a 64-bit hash of the
 * parent's number, the name and whether it is a directory), so a file
 * keeps its number across refreshes, forgets, evictions and remounts:
 * `ls -i`, `find -inum`, tar, `rsync -H` and NFS file handles see stable
 * files. Collisions: a 64-bit hash makes one unlikely (about 1 in 10^9
 * for 200,000 live names), and if two live paths do collide the later one
 * takes the hash of its path with a salt (1, 2, 3); such a number is
 * stable only while the first path stays known. Four salts exhausted
 * (a forged collision chain) is -EOVERFLOW for that name. Numbers 0 and 1
 * (FUSE_ROOT_ID, the root) are never given to a child.
 *
 * Entries are 32-byte slots in one open-addressed table (no allocation
 * per entry; names over 10 bytes take one). Counts follow the low-level
 * FUSE protocol exactly: every entry reply (LOOKUP, each READDIRPLUS entry
 * with a node id) adds one, FORGET and BATCH_FORGET take them back, and an
 * entry is freed when its count reaches zero. Each entry also holds one
 * count on its parent, so a directory stays known (and its children's
 * paths can be built) while anything below it is known, even when the
 * kernel forgot the directory itself. The root is not in the table and is
 * never forgotten.
 * Thread-safe: one mutex, a leaf (nothing is called with it held).
 */
#ifndef IMGTAGFS_INODE_H
#define IMGTAGFS_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INODE_ROOT 1
#define INODE_KEY_LEN 16

struct inode_table;

/* NULL on -ENOMEM. inode_table_free(NULL) is a no-op. */
struct inode_table *inode_table_new(void);
void inode_table_free(struct inode_table *t);

/* The key of the generations (inode_generation); all zero until set.
 * Set once, before the table is used. */
void inode_table_set_key(struct inode_table *t, const unsigned char key[INODE_KEY_LEN]);

/* The number (parent, name, dir) would have with no collision: the pure
 * function of the path. */
uint64_t inode_hash(uint64_t parent, const char *name, bool dir);
/* The generation of a known ino (0 for the root and unknown numbers): a
 * keyed hash (SipHash-2-4) of what its number hashes, so the same path
 * has the same one across remounts under one key. The kernel puts it in
 * a file handle beside the number and refuses (ESTALE) a handle whose
 * number names an inode of another generation: a number that another
 * path took since (a collision, found by chance or crafted by whoever can
 * push tags) never opens that other file. */
uint32_t inode_generation(struct inode_table *t, uint64_t ino);
/* SipHash-2-4 of the n bytes at msg (exposed for its test vectors). */
uint64_t inode_siphash(const unsigned char key[INODE_KEY_LEN], const void *msg, size_t n);

/* Finds or adds the entry for name (len < 256 bytes, no '/') in
 * directory parent and adds one lookup to it; *ino receives its number.
 * 0, -ENOMEM, -EOVERFLOW (see above), -ESTALE (parent unknown),
 * -ENAMETOOLONG. */
int inode_ref(struct inode_table *t, uint64_t parent, const char *name, bool dir, uint64_t *ino);
/* The same for a whole path ("/repo/image/tag"): its directories are
 * found or added holding no lookup of their own (only their children's),
 * the last component gets one. For a bare inode found again by its path
 * (open_by_handle_at after the kernel forgot it). */
int inode_ref_path(struct inode_table *t, const char *path, bool dir, uint64_t *ino);
/* The number the table gives (parent, name, dir) now, salt included,
 * taking no lookup: 0, or -ENOENT when the kernel holds no such entry. */
int inode_find(struct inode_table *t, uint64_t parent, const char *name, bool dir, uint64_t *ino);
/* The same for a whole path ("/" is the root; dir says what its last
 * component is, the others being directories). */
int inode_find_path(struct inode_table *t, const char *path, bool dir, uint64_t *ino);
/* Adds one lookup to a known ino (the kernel's LOOKUP of "." on a bare
 * inode, or of ".." for its parent: parent 1 asks for ino's parent).
 * 0 and *out, or -ESTALE. */
int inode_ref_known(struct inode_table *t, uint64_t ino, bool parent, uint64_t *out, bool *dir);
/* The directory ino is in. 0, or -ESTALE when ino is not known. */
int inode_parent(struct inode_table *t, uint64_t ino, uint64_t *parent);
/* Takes n lookups back (FORGET, or undoing an entry reply the kernel
 * never got); frees the entry at zero. The root and unknown numbers are
 * ignored. */
/* True when the entry was freed (and *was_dir, if not NULL, says whether
 * it was a directory). */
bool inode_forget(struct inode_table *t, uint64_t ino, uint64_t n, bool *was_dir);

/* The path of ino ("/" for the root, "/repo/image/tag" below it) into
 * buf. 0, -ESTALE (not known: forgotten or never given), -ENAMETOOLONG.
 * *dir (may be NULL) says whether it is a directory. */
int inode_path(struct inode_table *t, uint64_t ino, char *buf, size_t n, bool *dir);

/* Live entries (the root not counted). */
size_t inode_count(struct inode_table *t);

/* A copy of the live entries below parent (0: every entry), its children
 * or, with deep, everything under it at any depth; taken under the lock,
 * for telling the kernel what to forget without holding it. Release with
 * inode_list_release. 0 or -ENOMEM. */
struct inode_item {
	uint64_t ino, parent;
	bool dir;
	uint32_t name_off; /* into inode_list.names */
};
struct inode_list {
	struct inode_item *v;
	size_t n;
	char *names;
};
int inode_list_get(struct inode_table *t, uint64_t parent, bool deep, struct inode_list *out);
void inode_list_release(struct inode_list *l);

#endif
