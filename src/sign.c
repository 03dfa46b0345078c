/* sign.c — the UHub request signature; the only OpenSSL user.
 *
 * SHA-1 over name+value of every parameter but Signature, sorted by name in
 * plain byte order, then the private key (UHUB-API.md). The digest is fed
 * piecewise, so no buffer ever holds the key next to the parameters.
 */
#include "sign.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>


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
