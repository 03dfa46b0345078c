/* test_sign.c — the signature against every known-answer vector of
 * UHUB-API.md, plus the properties the server relies on. */
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
	static const char *const kv[] = {
		"Action",    "CreateUHostInstance", "CPU",       "2",
		"ChargeType", "Month",		     "DiskSpace", "10",
		"ImageId",   "f43736e1-65a5-4bea-ad2e-8a46e18883c2",
		"LoginMode", "Password",	     "Memory",    "2048",
		"Name",      "Host01",		     "Password",  "VUNsb3VkLmNu",
		"Quantity",  "1",		     "Region",    "cn-bj2",
		"Zone",      "cn-bj2-04",	     NULL};
	expect_sig(kv, "4f9ef5df2abab2c6fccd1e9515cb7e2df8c6bb65");
}

static void test_vector_get_image_tag(void **state)
{
	(void)state;
	static const char *const kv[] = {"Action",    "GetImageTag", "ProjectId", "org-abc123", "RepoName", "myrepo",
					 "ImageName", "team/app",    "Offset",    "0",		"Limit",    "20",
					 NULL};
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
	static const char *const kv[] = {"Action", "GetRepo", "Type", "private", "Offset", "0",
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_describe_uhost), cmocka_unit_test(test_vector_create_uhost),
		cmocka_unit_test(test_vector_get_image_tag),  cmocka_unit_test(test_vector_get_repo),
		cmocka_unit_test(test_order_independent),     cmocka_unit_test(test_signature_excluded),
		cmocka_unit_test(test_sign_and_verify),	      cmocka_unit_test(test_raw_values),
	};
	return cmocka_run_group_tests_name("sign", tests, NULL, NULL);
}
