/* test_sign.c — the signature against every known-answer vector of
 * UHUB-API.md, plus the properties the server relies on; the shared
 * tier's HMAC-SHA256, HKDF-SHA256 and SHA-256 against the RFCs' vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "params.h"
#include "sign.h"

#define PUB "ucloudsomeone@example.com1296235120854146120"
#define PRIV "46f09bb9fab4f12dfc160dae12273d5332b5debe"

/* Builds params from NULL-terminated name, value pairs. */
static struct params *make(const char *const *kv)
{
	struct params *p = params_new();

	assert_non_null(p);
	assert_int_equal(params_add(p, "PublicKey", PUB), 0);
	for (; kv[0]; kv += 2)
		assert_int_equal(params_add(p, kv[0], kv[1]), 0);
	return p;
}

static void expect_sig(const char *const *kv, const char *want)
{
	struct params *p = make(kv);
	char hex[SIGN_HEX_LEN + 1];

	assert_int_equal(sign_compute(p, PRIV, hex), 0);
	assert_string_equal(hex, want);
	params_free(p);
}

static void test_vector_describe_uhost(void **state)
{
	(void)state;
	static const char *const kv[] = {"Action", "DescribeUHostInstance", "Region", "cn-bj2", "Limit", "10", NULL};
	expect_sig(kv, "cba5cf5ec4d4233d206b1b54951e3787350a642f");
}

static void test_vector_create_uhost(void **state)
{
	(void)state;
	static const char *const kv[] = {"Action",     "CreateUHostInstance",
					 "CPU",	       "2",
					 "ChargeType", "Month",
					 "DiskSpace",  "10",
					 "ImageId",    "f43736e1-65a5-4bea-ad2e-8a46e18883c2",
					 "LoginMode",  "Password",
					 "Memory",     "2048",
					 "Name",       "Host01",
					 "Password",   "VUNsb3VkLmNu",
					 "Quantity",   "1",
					 "Region",     "cn-bj2",
					 "Zone",       "cn-bj2-04",
					 NULL};
	expect_sig(kv, "4f9ef5df2abab2c6fccd1e9515cb7e2df8c6bb65");
}

static void test_vector_get_image_tag(void **state)
{
	(void)state;
	static const char *const kv[] = {"Action", "GetImageTag", "ProjectId", "org-abc123", "RepoName",
					 "myrepo", "ImageName",	  "team/app",  "Offset",     "0",
					 "Limit",  "20",	  NULL};
	expect_sig(kv, "c6d120be89d613d0cd3d275ba5b44f16529d48eb");
}

static void test_vector_get_repo(void **state)
{
	(void)state;
	static const char *const kv[] = {"Action", "GetRepo", "Type", "private", "Offset", "0", "Limit", "100", NULL};
	expect_sig(kv, "a8d2d4e3c1805f3bc5984d331423b44ac1d67364");
}

/* The order parameters were added in must not matter. */
static void test_order_independent(void **state)
{
	(void)state;
	static const char *const kv[] = {"Limit", "100", "Offset", "0", "Type", "private", "Action", "GetRepo", NULL};
	expect_sig(kv, "a8d2d4e3c1805f3bc5984d331423b44ac1d67364");
}

/* An existing Signature parameter is not signed over. */
static void test_signature_excluded(void **state)
{
	(void)state;
	static const char *const kv[] = {"Action", "GetRepo", "Type",	   "private",  "Offset", "0",
					 "Limit",  "100",     "Signature", "deadbeef", NULL};
	expect_sig(kv, "a8d2d4e3c1805f3bc5984d331423b44ac1d67364");
}

static void test_sign_and_verify(void **state)
{
	(void)state;
	static const char *const kv[] = {"Action", "GetRepo", "Type", "private", NULL};
	struct params *p = make(kv);
	char sig[SIGN_HEX_LEN + 1];

	assert_false(sign_verify(p, PRIV)); /* no Signature yet */
	assert_int_equal(sign_params(p, PRIV), 0);
	assert_true(sign_verify(p, PRIV));
	assert_false(sign_verify(p, "46f09bb9fab4f12dfc160dae12273d5332b5debf"));

	/* One wrong byte in the signature is refused. */
	memcpy(sig, params_get(p, "Signature"), sizeof(sig));
	sig[7] = sig[7] == 'a' ? 'b' : 'a';
	assert_int_equal(params_set(p, "Signature", sig), 0);
	assert_false(sign_verify(p, PRIV));

	/* A changed parameter invalidates the signature. */
	assert_int_equal(sign_params(p, PRIV), 0);
	assert_int_equal(params_set(p, "Type", "public"), 0);
	assert_false(sign_verify(p, PRIV));

	/* A truncated signature is refused, not read past. */
	assert_int_equal(params_set(p, "Signature", "abc"), 0);
	assert_false(sign_verify(p, PRIV));
	params_free(p);
}

/* Values are signed raw (decoded), not URL-encoded. */
static void test_raw_values(void **state)
{
	(void)state;
	struct params *a = params_new(), *b = params_new();
	char ha[SIGN_HEX_LEN + 1], hb[SIGN_HEX_LEN + 1];

	assert_int_equal(params_add(a, "ImageName", "team/app x"), 0);
	assert_int_equal(params_decode(b, "ImageName=team%2Fapp%20x", 24), 0);
	assert_int_equal(sign_compute(a, PRIV, ha), 0);
	assert_int_equal(sign_compute(b, PRIV, hb), 0);
	assert_string_equal(ha, hb);
	params_free(a);
	params_free(b);
}

/* got (SIGN_SHA256_LEN bytes) as lower-case hex equals want. */
static void expect_hex(const unsigned char *got, const char *want)
{
	static const char digits[] = "0123456789abcdef";
	char hex[2 * SIGN_SHA256_LEN + 1];

	for (size_t i = 0; i < SIGN_SHA256_LEN; i++) {
		hex[2 * i] = digits[got[i] >> 4];
		hex[2 * i + 1] = digits[got[i] & 15];
	}
	hex[2 * SIGN_SHA256_LEN] = '\0';
	assert_string_equal(hex, want);
}

/* RFC 4231, test cases 1 and 2. */
static void test_hmac_sha256(void **state)
{
	(void)state;
	unsigned char key[20], mac[SIGN_SHA256_LEN];

	memset(key, 0x0b, sizeof(key));
	assert_int_equal(sign_hmac_sha256(key, sizeof(key), "Hi There", 8, mac), 0);
	expect_hex(mac, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(sign_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
	expect_hex(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* An empty message is a message (NULL for it included). */
	assert_int_equal(sign_hmac_sha256("Jefe", 4, NULL, 0, mac), 0);
}

/* RFC 5869, test case 1 (the first 32 bytes of its 42), and test case 3:
 * no salt and no info. */
static void test_hkdf_sha256(void **state)
{
	(void)state;
	unsigned char ikm[22], salt[13], info[10], okm[SIGN_SHA256_LEN];

	memset(ikm, 0x0b, sizeof(ikm));
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof(info); i++)
		info[i] = (unsigned char)(0xf0 + i);
	assert_int_equal(sign_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info), okm), 0);
	expect_hex(okm, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
	assert_int_equal(sign_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, okm), 0);
	expect_hex(okm, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
}

static void test_sha256(void **state)
{
	(void)state;
	unsigned char md[SIGN_SHA256_LEN];

	assert_int_equal(sign_sha256("abc", 3, md), 0);
	expect_hex(md, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(sign_sha256(NULL, 0, md), 0);
	expect_hex(md, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_equal_and_wipe(void **state)
{
	(void)state;
	unsigned char a[SIGN_SHA256_LEN], b[SIGN_SHA256_LEN], zero[SIGN_SHA256_LEN] = {0};

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(sign_equal(a, b, sizeof(a)));
	for (size_t i = 0; i < sizeof(b); i++) {
		b[i] ^= 1;
		assert_false(sign_equal(a, b, sizeof(a)));
		b[i] ^= 1;
	}
	assert_true(sign_equal(a, b, 0));
	sign_wipe(a, sizeof(a));
	assert_memory_equal(a, zero, sizeof(a));
	sign_wipe(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vector_describe_uhost),
	    cmocka_unit_test(test_vector_create_uhost),
	    cmocka_unit_test(test_vector_get_image_tag),
	    cmocka_unit_test(test_vector_get_repo),
	    cmocka_unit_test(test_order_independent),
	    cmocka_unit_test(test_signature_excluded),
	    cmocka_unit_test(test_sign_and_verify),
	    cmocka_unit_test(test_raw_values),
	    cmocka_unit_test(test_hmac_sha256),
	    cmocka_unit_test(test_hkdf_sha256),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_equal_and_wipe),
	};
	return cmocka_run_group_tests_name("sign", tests, NULL, NULL);
}
