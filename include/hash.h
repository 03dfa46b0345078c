/* hash.h — FNV-1a, the daemon's one non-cryptographic hash: the buckets of
 * its tables (cache, bg, inode numbers, the query budget's slots, the fleet
 * tier's stamps) and the change detector of a listing (snap's version).
 * Not a defence against chosen input; a caller that needs one (the fleet's
 * values) uses sign.c's MACs. Pure: any thread.
 *
 * Each call continues a running hash h: start from the basis, feed the
 * pieces in order, so that one hash can cover several fields.
 */
#ifndef IMGTAGFS_HASH_H
#define IMGTAGFS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV64_BASIS 14695981039346656037ULL
#define HASH_FNV64_PRIME 1099511628211ULL
#define HASH_FNV32_BASIS 2166136261u

/* h continued over the n bytes at p (n == 0: h). */
uint64_t hash_fnv64(uint64_t h, const void *p, size_t n);
/* h continued over the bytes of the string s, its NUL left out. */
uint64_t hash_fnv64_str(uint64_t h, const char *s);
/* The 32-bit variant: h continued over the n bytes at p. */
uint32_t hash_fnv32(uint32_t h, const void *p, size_t n);

#endif
