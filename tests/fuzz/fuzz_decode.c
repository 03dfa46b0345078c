/* fuzz_decode.c — libFuzzer harness for the JSON decoder (decode.h): API
 * replies of every list kind, the vendor's credential.json and config.json.
 *
 * Input: one selector byte, then the document. The selector's low three
 * bits pick the call (0 repos, 1 images, 2 tags, 3 RetCode only,
 * 4 credentials, 5 config, 6 an invalid kind, 7 tags again); the next two
 * bits pick the profile asked for; the top bit leaves some of decode_config's
 * out-pointers NULL. ASCII '0'..'7' are the eight calls with profile NULL,
 * so seed files stay readable. The document is handed over in an
 * allocation of exactly its length (no NUL), so a read past len is caught.
 *
 * After each call the header's promises are checked: on 0 every item has a
 * non-empty name, strings are bounded, counts are bounded; on an error the
 * outputs are empty. Everything is released either way (LeakSanitizer).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "decode.h"
#include "fuzz.h"

/* Beyond it decode.c calls a TotalCount absurd. */
#define TOTAL_MAX 1000000000000LL

static const char *const profiles[4] = {"default", "prod", NULL, ""};

/* NULL, or a non-empty string of at most DECODE_MAX_STRING bytes. */
static bool bounded(const char *s)
{
	return !s || (s[0] && strnlen(s, DECODE_MAX_STRING + 1) <= DECODE_MAX_STRING);
}

static void check_item(const struct decode_item *it, enum decode_list kind)
{
	FUZZ_CHECK(it->name != NULL && it->name[0] != '\0');
	FUZZ_CHECK(bounded(it->name));
	/* UpdateTime may be an empty string: the server sent it so. */
	FUZZ_CHECK(!it->time || strnlen(it->time, DECODE_MAX_STRING + 1) <= DECODE_MAX_STRING);
	FUZZ_CHECK(bounded(it->digest));
	FUZZ_CHECK(kind == DECODE_TAGS || it->digest == NULL);
}

static void check_empty(const struct decode_reply *r)
{
	FUZZ_CHECK(r->n == 0 && r->items == NULL && r->message == NULL && r->total == -1 && r->skipped == 0);
}

static void fuzz_reply(const char *doc, size_t len, enum decode_list kind)
{
	struct decode_reply r;
	int err = decode_reply(doc, len, kind, &r);

	if ((unsigned)kind > DECODE_NONE)
		FUZZ_CHECK(err == -EINVAL);
	FUZZ_CHECK(err == 0 || err == -EBADMSG || err == -E2BIG || err == -ENOMEM || err == -EINVAL);
	if (err) {
		check_empty(&r);
	} else {
		FUZZ_CHECK(r.n <= DECODE_MAX_ITEMS);
		FUZZ_CHECK(r.n + r.skipped <= DECODE_MAX_ITEMS);
		FUZZ_CHECK(r.n == 0 || r.items != NULL);
		FUZZ_CHECK(r.total == -1 || (r.total >= 0 && r.total <= TOTAL_MAX));
		FUZZ_CHECK(r.retcode >= INT32_MIN && r.retcode <= INT32_MAX);
		/* A message is cut, not refused: it may be empty but bounded. */
		FUZZ_CHECK(!r.message || strlen(r.message) <= DECODE_MAX_STRING);
		/* The list is looked at only for a success of a list kind. */
		if (r.retcode != 0 || kind == DECODE_NONE)
			FUZZ_CHECK(r.n == 0 && r.skipped == 0);
		for (size_t i = 0; i < r.n; i++)
			check_item(&r.items[i], kind);
	}
	decode_reply_release(&r);
	check_empty(&r);
	decode_reply_release(&r); /* twice is allowed */
}

static void fuzz_credentials(const char *doc, size_t len, const char *profile)
{
	char *pub = (char *)1, *priv = (char *)1;
	int err = decode_credentials(doc, len, profile, &pub, &priv);

	FUZZ_CHECK(err == 0 || err == -ENOENT || err == -EBADMSG || err == -ENOMEM);
	if (err) {
		FUZZ_CHECK(pub == NULL && priv == NULL);
		return;
	}
	FUZZ_CHECK(pub && priv && bounded(pub) && bounded(priv));
	free(pub);
	explicit_bzero(priv, strlen(priv));
	free(priv);
}

static void fuzz_config(const char *doc, size_t len, const char *profile, bool some_null)
{
	char *picked = (char *)1, *project = (char *)1, *url = (char *)1;
	int err = decode_config(doc, len, profile, some_null ? NULL : &picked, &project, some_null ? NULL : &url);

	FUZZ_CHECK(err == 0 || err == -ENOENT || err == -EBADMSG || err == -ENOMEM);
	if (some_null)
		FUZZ_CHECK(picked == (char *)1 && url == (char *)1); /* untouched */
	if (err) {
		FUZZ_CHECK(project == NULL && (some_null || (picked == NULL && url == NULL)));
		return;
	}
	FUZZ_CHECK(bounded(project));
	if (!some_null) {
		/* The profile picked: the one asked for, when one was. */
		FUZZ_CHECK(picked != NULL && (!profile || strcmp(picked, profile) == 0));
		FUZZ_CHECK(bounded(url));
		free(picked);
		free(url);
	}
	free(project);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sel;
	const char *profile;
	char *doc;
	size_t len;

	if (size < 1)
		return 0;
	sel = data[0];
	profile = profiles[(sel >> 3) & 3];
	len = size - 1;
	doc = fuzz_bytes(data + 1, len);
	switch (sel & 7) {
	case 0:
		fuzz_reply(doc, len, DECODE_REPOS);
		break;
	case 1:
		fuzz_reply(doc, len, DECODE_IMAGES);
		break;
	case 2:
	case 7:
		fuzz_reply(doc, len, DECODE_TAGS);
		break;
	case 3:
		fuzz_reply(doc, len, DECODE_NONE);
		break;
	case 4:
		fuzz_credentials(doc, len, profile);
		break;
	case 5:
		fuzz_config(doc, len, profile, sel & 0x80);
		break;
	default:
		fuzz_reply(doc, len, (enum decode_list)(DECODE_NONE + 1 + (sel >> 3)));
		break;
	}
	free(doc);
	return 0;
}
