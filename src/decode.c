/* decode.c — JSON documents to our structs; the only cJSON user.
 *
 * Everything here is untrusted input: API replies come off the network and
 * the vendor's files are user-editable. So every number is range-checked,
 * every string is bounded, a list item of the wrong shape is skipped (and
 * counted) rather than failing the whole listing, and anything that is not
 * recognisably a reply is -EBADMSG, which the caller may retry. cJSON is
 * confined to this file so the rest of the program talks in plain structs.
 *
 * Shape decisions the API leaves open (see include/decode.h):
 * - RetCode and TotalCount may be JSON numbers or numeric strings ("171").
 * - With RetCode 0 the list must be an array; a missing (or null) list is
 *   accepted as empty only when TotalCount is 0, because "no list" with
 *   items announced, or with no count at all, is a broken reply.
 * - A non-zero RetCode does not look at the list at all: error replies
 *   carry none.
 */
#include "decode.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"

/* Above 2^53 a JSON number is no longer an exact integer. */
#define EXACT_MAX 9007199254740992.0
/* Bigger than any real registry; beyond it TotalCount is "absurd". */
#define TOTAL_MAX 1000000000000LL
#define PROFILE_DEFAULT "default"

/* An upper bound on the values in a JSON text, from one pass over its
 * bytes: every value but the first of a container follows a ',', the
 * first follows its '[' or '{', and the root is one more. cJSON spends
 * some 80 bytes a value, so "[0,0,...]" would cost 40 times its size;
 * counting first keeps a parse within what a page can need. */
static size_t count_values(const char *json, size_t len)
{
	size_t n = 1;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char ch = json[i];

		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = false;
		} else if (ch == '"') {
			in_string = true;
		} else if (ch == ',' || ch == '[' || ch == '{') {
			n++;
		}
	}
	return n;
}

/* Parses len bytes (no NUL needed) and insists that only whitespace
 * follows the value: "{}garbage" is not a reply. */
static cJSON *parse(const char *json, size_t len)
{
	const char *end = NULL;
	cJSON *root;

	if (!json || !len)
		return NULL;
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root)
		return NULL;
	for (; end && end < json + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
			cJSON_Delete(root);
			return NULL;
		}
	}
	return root;
}

/* True for a double that is an integer held exactly (false for NaN).
 * Plain comparisons: no libm needed. */
static bool exact_integer(double d)
{
	return d >= -EXACT_MAX && d <= EXACT_MAX && (double)(long long)d == d;
}

/* An integer from a JSON number or a numeric string ("171", "-5").
 * 0 or -EBADMSG (another type, a fraction, junk, out of [min, max]). */
static int json_integer(const cJSON *v, long long min, long long max, long long *out)
{
	long long r;

	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (!exact_integer(d))
			return -EBADMSG;
		r = (long long)d;
	} else if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		char *end;

		if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
			return -EBADMSG;
		errno = 0;
		r = strtoll(s, &end, 10);
		if (errno || *end)
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	if (r < min || r > max)
		return -EBADMSG;
	*out = r;
	return 0;
}

/* A malloc'd copy of s: -E2BIG past DECODE_MAX_STRING, -ENOMEM. */
static int dup_bounded(const char *s, char **out)
{
	size_t n = strnlen(s, DECODE_MAX_STRING + 1);

	if (n > DECODE_MAX_STRING)
		return -E2BIG;
	*out = malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	return 0;
}

/* The string member key of o, copied; *out NULL when absent, not a
 * string, or empty (a value nobody set). */
static int dup_member(const cJSON *o, const char *key, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return 0;
	return dup_bounded(v->valuestring, out);
}

/* UpdateTime: a string as it is, a number as decimal text (whole seconds
 * as an integer, anything else in full so the raw value can be shown).
 * Other types count as absent. 0, -E2BIG, -ENOMEM. */
static int decode_time(const cJSON *v, char **out)
{
	char num[64];
	double d;

	*out = NULL;
	if (cJSON_IsString(v))
		return dup_bounded(v->valuestring, out);
	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (exact_integer(d))
		snprintf(num, sizeof(num), "%lld", (long long)d);
	else
		snprintf(num, sizeof(num), "%.17g", d);
	return dup_bounded(num, out);
}

static void item_release(struct decode_item *it)
{
	free(it->name);
	free(it->time);
	free(it->digest);
	memset(it, 0, sizeof(*it));
}

static const char *const name_key[] = {
    [DECODE_REPOS] = "RepoName",
    [DECODE_IMAGES] = "ImageName",
    [DECODE_TAGS] = "TagName",
};
static const char *const set_key[] = {
    [DECODE_REPOS] = "RepoSet",
    [DECODE_IMAGES] = "ImageSet",
    [DECODE_TAGS] = "TagSet",
};

/* Keeps the first refused name, made safe to print, for the caller's log. */
static void note_bad_name(struct decode_reply *out, const char *name)
{
	if (!out->badnames++)
		log_escape(name, strnlen(name, sizeof(out->badname)), out->badname, sizeof(out->badname));
}

/* One list element. 0 kept, 1 skipped for its shape, 2 for a name that
 * cannot be a file name, -ENOMEM. */
static int decode_item(const cJSON *o, enum decode_list kind, struct decode_item *it)
{
	const cJSON *name;
	int err;

	memset(it, 0, sizeof(*it));
	if (!cJSON_IsObject(o))
		return 1;
	name = cJSON_GetObjectItemCaseSensitive(o, name_key[kind]);
	if (!cJSON_IsString(name) || !name->valuestring[0])
		return 1;
	/* A name that can never be a file name is dropped here, before
	 * anything is copied: what no directory can show is never stored. */
	if (!names_valid_entry(kind == DECODE_IMAGES, name->valuestring, strlen(name->valuestring)))
		return 2;
	err = dup_bounded(name->valuestring, &it->name);
	if (!err)
		err = decode_time(cJSON_GetObjectItemCaseSensitive(o, "UpdateTime"), &it->time);
	if (!err && kind == DECODE_TAGS)
		err = dup_member(o, "Digest", &it->digest);
	if (err)
		item_release(it);
	return err == -E2BIG ? 1 : err;
}

/* The list of a RetCode 0 reply into out->items. */
static int decode_list(const cJSON *root, enum decode_list kind, struct decode_reply *out)
{
	const cJSON *set = cJSON_GetObjectItemCaseSensitive(root, set_key[kind]);
	const cJSON *el;
	int count, err;

	if (!set || cJSON_IsNull(set))
		return out->total == 0 ? 0 : -EBADMSG;
	if (!cJSON_IsArray(set))
		return -EBADMSG;
	count = cJSON_GetArraySize(set);
	if (count > DECODE_MAX_ITEMS)
		return -E2BIG;
	if (count == 0)
		return 0;
	out->items = calloc((size_t)count, sizeof(*out->items));
	if (!out->items)
		return -ENOMEM;
	/* ArrayForEach walks the list once; GetArrayItem(i) would be O(n^2). */
	cJSON_ArrayForEach(el, set)
	{
		err = decode_item(el, kind, &out->items[out->n]);
		if (err < 0)
			return err;
		out->items[out->n].pos = out->n + out->skipped;
		if (err == 2)
			note_bad_name(out, cJSON_GetObjectItemCaseSensitive(el, name_key[kind])->valuestring);
		if (err)
			out->skipped++;
		else
			out->n++;
	}
	return 0;
}

/* RetCode, Message and TotalCount. */
static int decode_head(const cJSON *root, struct decode_reply *out)
{
	const cJSON *total, *msg;
	long long v;
	int err;

	if (!cJSON_IsObject(root))
		return -EBADMSG;
	total = cJSON_GetObjectItemCaseSensitive(root, "TotalCount");
	msg = cJSON_GetObjectItemCaseSensitive(root, "Message");
	err = json_integer(cJSON_GetObjectItemCaseSensitive(root, "RetCode"), INT32_MIN, INT32_MAX, &v);
	if (err)
		return err;
	out->retcode = (long)v;
	if (total && !cJSON_IsNull(total)) {
		err = json_integer(total, 0, TOTAL_MAX, &out->total);
		if (err)
			return err;
	}
	if (cJSON_IsString(msg)) {
		/* A message is for people: an overlong one is cut, not fatal;
		 * and it reaches terminals (--check, a failed mount), so an
		 * escape sequence in it is shown, never sent. */
		size_t n = strnlen(msg->valuestring, DECODE_MAX_STRING);
		/* Escaping may take 4 bytes a byte: the shown text keeps the
		 * cap too (cut before a character that would not fit). */
		size_t cap = 4 * n + 1 > DECODE_MAX_STRING + 1 ? DECODE_MAX_STRING + 1 : 4 * n + 1;

		out->message = malloc(cap);
		if (!out->message)
			return -ENOMEM;
		log_escape(msg->valuestring, n, out->message, cap);
	}
	return 0;
}

static void reply_init(struct decode_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->total = -1;
}

int decode_reply(const char *json, size_t len, enum decode_list kind, struct decode_reply *out)
{
	return decode_reply_bounded(json, len, kind, 0, out);
}

int decode_reply_bounded(const char *json, size_t len, enum decode_list kind, size_t max_values,
			 struct decode_reply *out)
{
	cJSON *root;
	int err;

	reply_init(out);
	if ((unsigned)kind > DECODE_NONE)
		return -EINVAL;
	if (max_values && json && count_values(json, len) > max_values)
		return -E2BIG;
	root = parse(json, len);
	if (!root)
		return -EBADMSG;
	err = decode_head(root, out);
	if (!err && out->retcode == 0 && kind != DECODE_NONE)
		err = decode_list(root, kind, out);
	cJSON_Delete(root);
	if (err)
		decode_reply_release(out);
	return err;
}

void decode_reply_release(struct decode_reply *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		item_release(&r->items[i]);
	free(r->items);
	free(r->message);
	reply_init(r);
}

/* ---- the vendor's files -------------------------------------------------- */

/* The profile an entry belongs to; an entry without one is "default".
 * NULL when "profile" is there but not a string. */
static const char *entry_profile(const cJSON *o)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "profile");

	if (!p)
		return PROFILE_DEFAULT;
	return cJSON_IsString(p) ? p->valuestring : NULL;
}

/* The first object in the array whose profile is name. */
static const cJSON *find_profile(const cJSON *arr, const char *name)
{
	const cJSON *el;

	cJSON_ArrayForEach(el, arr)
	{
		const char *p = cJSON_IsObject(el) ? entry_profile(el) : NULL;

		if (p && !strcmp(p, name))
			return el;
	}
	return NULL;
}

/* Overwrites every private_key string in the document before it is freed,
 * so the key does not linger in freed heap memory. */
static void wipe_keys(cJSON *arr)
{
	cJSON *el;

	cJSON_ArrayForEach(el, arr)
	{
		cJSON *k = cJSON_GetObjectItemCaseSensitive(el, "private_key");

		if (cJSON_IsString(k))
			explicit_bzero(k->valuestring, strlen(k->valuestring));
	}
}

/* A required, non-empty string member of o, copied. */
static int required_string(const cJSON *o, const char *key, char **out)
{
	int err = dup_member(o, key, out);

	if (err == -E2BIG)
		return -EBADMSG;
	if (!err && !*out)
		return -EBADMSG;
	return err;
}

int decode_credentials(const char *json, size_t len, const char *profile, char **pub, char **priv)
{
	cJSON *root = parse(json, len);
	const cJSON *entry;
	int err;

	*pub = NULL;
	*priv = NULL;
	if (!cJSON_IsArray(root)) {
		err = -EBADMSG;
		goto out;
	}
	entry = find_profile(root, profile ? profile : PROFILE_DEFAULT);
	err = entry ? required_string(entry, "public_key", pub) : -ENOENT;
	if (!err)
		err = required_string(entry, "private_key", priv);
	if (err) {
		/* *priv is still NULL: it is the last thing set. */
		free(*pub);
		*pub = NULL;
	}
out:
	if (root)
		wipe_keys(root);
	cJSON_Delete(root);
	return err;
}

/* The config entry to use: profile by name, else the active one, else
 * "default". */
static const cJSON *pick_config(const cJSON *arr, const char *profile)
{
	const cJSON *el;

	if (profile)
		return find_profile(arr, profile);
	cJSON_ArrayForEach(el, arr)
	{
		if (cJSON_IsObject(el) && entry_profile(el) &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(el, "active")))
			return el;
	}
	return find_profile(arr, PROFILE_DEFAULT);
}

/* Copies the optional string member key into *out when out is wanted. */
static int optional_string(const cJSON *o, const char *key, char **out)
{
	int err;

	if (!out)
		return 0;
	err = dup_member(o, key, out);
	return err == -E2BIG ? -EBADMSG : err;
}

int decode_config(const char *json, size_t len, const char *profile, char **picked, char **project_id, char **base_url)
{
	char **outs[] = {picked, project_id, base_url};
	cJSON *root = parse(json, len);
	const cJSON *entry = NULL;
	int err = 0;

	for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++)
		if (outs[i])
			*outs[i] = NULL;
	if (!cJSON_IsArray(root))
		err = -EBADMSG;
	else if (!(entry = pick_config(root, profile)))
		err = -ENOENT;
	if (!err && picked) {
		*picked = strdup(entry_profile(entry));
		err = *picked ? 0 : -ENOMEM;
	}
	if (!err)
		err = optional_string(entry, "project_id", project_id);
	if (!err)
		err = optional_string(entry, "base_url", base_url);
	if (err) {
		for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
			if (outs[i]) {
				free(*outs[i]);
				*outs[i] = NULL;
			}
		}
	}
	cJSON_Delete(root);
	return err;
}
