/* sign.c — the UHub request signature, and the shared tier's MAC, key
 * derivation and hashing; the only OpenSSL user.
 *
 * SHA-1 over name+value of every parameter but Signature, sorted by name in
 * plain byte order, then the private key (UHUB-API.md). The digest is fed
 * piecewise, so no buffer ever holds the key next to the parameters.
 * The shared tier's primitives are thin wrappers, here so that no other
 * module includes an OpenSSL header; the comparison and the wipe are
 * OpenSSL's because a compiler may turn memcmp into an early exit (a
 * timing oracle for a MAC) and drop a memset before free.
 */
#include "sign.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

static int cmp_index(const void *a, const void *b, void *arg)
{
	const struct params *p = arg;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = strcmp(params_name(p, ia), params_name(p, ib));

	/* Equal names keep their order, so duplicates sign deterministically. */
	if (c)
		return c;
	return ia < ib ? -1 : ia > ib;
}

/* Feeds the sorted parameters and the key into ctx. */
static int feed(EVP_MD_CTX *ctx, const struct params *p, const char *private_key)
{
	size_t n = params_count(p);
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	int ok = 1;

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_index, (void *)p);
	for (size_t i = 0; i < n && ok; i++) {
		const char *name = params_name(p, idx[i]);
		const char *value = params_value(p, idx[i]);

		if (strcmp(name, "Signature") == 0)
			continue;
		ok = EVP_DigestUpdate(ctx, name, strlen(name)) && EVP_DigestUpdate(ctx, value, strlen(value));
	}
	free(idx);
	if (ok)
		ok = EVP_DigestUpdate(ctx, private_key, strlen(private_key));
	return ok ? 0 : -EIO;
}

int sign_compute(const struct params *p, const char *private_key, char hex[SIGN_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int err;

	if (!ctx)
		return -ENOMEM;
	err = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ? 0 : -EIO;
	if (!err)
		err = feed(ctx, p, private_key);
	if (!err && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen * 2 != SIGN_HEX_LEN))
		err = -EIO;
	EVP_MD_CTX_free(ctx);
	if (err)
		return err;
	for (unsigned int i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[SIGN_HEX_LEN] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

int sign_params(struct params *p, const char *private_key)
{
	char hex[SIGN_HEX_LEN + 1];
	int err = sign_compute(p, private_key, hex);

	if (!err)
		err = params_set(p, "Signature", hex);
	return err;
}

bool sign_verify(const struct params *p, const char *private_key)
{
	char hex[SIGN_HEX_LEN + 1];
	const char *given = params_get(p, "Signature");

	if (!given || strlen(given) != SIGN_HEX_LEN)
		return false;
	if (sign_compute(p, private_key, hex))
		return false;
	return CRYPTO_memcmp(hex, given, SIGN_HEX_LEN) == 0;
}

/* OpenSSL wants a pointer even for zero bytes. */
static const void *nonnull(const void *p)
{
	static const unsigned char none;

	return p ? p : &none;
}

int sign_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[SIGN_SHA256_LEN])
{
	unsigned int len = 0;

	if (keylen > INT_MAX)
		return -EIO;
	if (!HMAC(EVP_sha256(), nonnull(key), (int)keylen, nonnull(msg), n, out, &len) || len != SIGN_SHA256_LEN)
		return -EIO;
	return 0;
}

int sign_hmac_sha256_under(const void *key, size_t keylen, const char *scope, const void *msg, size_t n,
			   unsigned char out[SIGN_SHA256_LEN])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	size_t len = 0;
	int ok = ctx && EVP_MAC_init(ctx, nonnull(key), keylen, params) &&
		 EVP_MAC_update(ctx, (const unsigned char *)scope, strlen(scope) + 1) &&
		 EVP_MAC_update(ctx, nonnull(msg), n) && EVP_MAC_final(ctx, out, &len, SIGN_SHA256_LEN) &&
		 len == SIGN_SHA256_LEN;

	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -EIO;
}

/* RFC 5869: no salt is the same as HashLen zero bytes, which is what an
 * empty HMAC key is padded to; OpenSSL is simply not given one. */
int sign_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen, const void *info, size_t infolen,
		     unsigned char out[SIGN_SHA256_LEN])
{
	OSSL_PARAM params[5], *p = params;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)nonnull(ikm), ikmlen);
	if (saltlen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	if (infolen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
	*p = OSSL_PARAM_construct_end();
	ok = ctx && EVP_KDF_derive(ctx, out, SIGN_SHA256_LEN, params) > 0;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : -EIO;
}

int sign_sha256(const void *msg, size_t n, unsigned char out[SIGN_SHA256_LEN])
{
	unsigned int len = 0;

	if (!EVP_Digest(nonnull(msg), n, out, &len, EVP_sha256(), NULL) || len != SIGN_SHA256_LEN)
		return -EIO;
	return 0;
}

bool sign_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void sign_wipe(void *p, size_t n)
{
	if (p)
		OPENSSL_cleanse(p, n);
}
