/* hash.c — FNV-1a over bytes, in 64 and 32 bits (see hash.h): one copy
 * for every table and change detector, so that their values agree with
 * what they were and with each other. */
#include "hash.h"

uint64_t hash_fnv64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * HASH_FNV64_PRIME;
	return h;
}

uint64_t hash_fnv64_str(uint64_t h, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		h = (h ^ *c) * HASH_FNV64_PRIME;
	return h;
}

uint32_t hash_fnv32(uint32_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 16777619u;
	return h;
}
