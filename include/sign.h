/* sign.h — the UHub request signature (UHUB-API.md, "Signature").
 *
 * SHA-1 over every parameter but Signature, sorted by name in plain byte
 * order, as name+value with no separator, followed by the private key;
 * lowercase hex. The only OpenSSL user. Thread-safe: no shared state.
 */
#ifndef IMGTAGFS_SIGN_H
#define IMGTAGFS_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "params.h"

#define SIGN_HEX_LEN 40
#define SIGN_SHA256_LEN 32

/* Writes the signature of p (its "Signature" entries ignored) and the
 * NUL to hex. 0, -ENOMEM, -EIO if the digest failed. */
int sign_compute(const struct params *p, const char *private_key, char hex[SIGN_HEX_LEN + 1]);
/* Adds (or replaces) the Signature parameter of p. 0 or -errno. */
int sign_params(struct params *p, const char *private_key);
/* True when p's Signature is the right one for private_key; compares in
 * constant time. False when there is no Signature. */
bool sign_verify(const struct params *p, const char *private_key);

/* The shared tier's cryptography (sval.h, tier.c), here because this is
 * the only OpenSSL user. */
/* HMAC-SHA256 of the n bytes at msg under key. 0 or -EIO. */
int sign_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[SIGN_SHA256_LEN]);
/* The same over scope (a C string, its NUL included) and then the n
 * bytes at msg, as if they were one buffer: the shared tier's MACs cover
 * the namespace ahead of the bytes, without copying them behind it. */
int sign_hmac_sha256_under(const void *key, size_t keylen, const char *scope, const void *msg, size_t n,
			   unsigned char out[SIGN_SHA256_LEN]);
/* HKDF-SHA256 (RFC 5869): a 32-byte key from the input key material,
 * a salt and an info string. 0 or -EIO. */
int sign_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen, const void *info, size_t infolen,
		     unsigned char out[SIGN_SHA256_LEN]);
/* SHA-256 of n bytes. 0 or -EIO. */
int sign_sha256(const void *msg, size_t n, unsigned char out[SIGN_SHA256_LEN]);
/* True when the n bytes at a and b are equal; constant time. */
bool sign_equal(const void *a, const void *b, size_t n);
/* Overwrites n bytes at p in a way the compiler cannot drop. */
void sign_wipe(void *p, size_t n);

#endif
