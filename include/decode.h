/* decode.h — JSON documents to our structs: API replies and the vendor's
 * credential/config files. The only cJSON user.
 *
 * Everything decoded is untrusted: numbers are range-checked, strings are
 * bounded (DECODE_MAX_STRING), item counts are bounded (DECODE_MAX_ITEMS),
 * and an item of the wrong shape is skipped and counted, not fatal.
 * All functions are thread-safe (no shared state).
 */
#ifndef IMGTAGFS_DECODE_H
#define IMGTAGFS_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#define DECODE_MAX_STRING 4096
#define DECODE_MAX_ITEMS 100000

enum decode_list {
	DECODE_REPOS,	/* GetRepo: RepoSet[], RepoName */
	DECODE_IMAGES,	/* GetRepoImage: ImageSet[], ImageName */
	DECODE_TAGS,	/* GetImageTag: TagSet[], TagName, Digest */
	DECODE_NONE,	/* only RetCode/Message (any action) */
};

struct decode_item {
	char *name;	/* RepoName / ImageName / TagName; never NULL */
	char *time;	/* UpdateTime as text (a JSON number is printed in
			   decimal); NULL when absent */
	char *digest;	/* Digest (tags only); NULL when absent or empty */
};

struct decode_reply {
	long retcode;		/* RetCode, from an int or a numeric string */
	char *message;		/* Message, NULL when absent */
	long long total;	/* TotalCount, -1 when absent */
	struct decode_item *items;
	size_t n;
	size_t skipped;		/* items dropped for their shape */
};

/* Decodes one API reply. Returns 0 for a JSON object with a RetCode (even
 * a non-zero one: check out->retcode); -EBADMSG for anything else (not
 * JSON, not an object, no RetCode, a list that is not an array when
 * RetCode is 0, a negative or absurd TotalCount); -E2BIG for more than
 * DECODE_MAX_ITEMS items; -ENOMEM. out is always initialised. */
int decode_reply(const char *json, size_t len, enum decode_list kind, struct decode_reply *out);
void decode_reply_release(struct decode_reply *r);

/* ~/.ucloud/credential.json: a JSON array of {"public_key","private_key",
 * "profile"}. Picks the entry of profile (an entry without "profile" is
 * "default"). Sets *pub and *priv to malloc'd copies (the caller wipes and
 * frees them). 0, -ENOENT (no such profile), -EBADMSG, -ENOMEM. */
int decode_credentials(const char *json, size_t len, const char *profile, char **pub, char **priv);

/* ~/.ucloud/config.json: a JSON array of {"profile","project_id",
 * "base_url","active",...}. With profile NULL, picks the entry with
 * "active": true, else "default"; reports the profile it picked in
 * *picked. Each out-pointer may be NULL; strings are malloc'd, NULL when
 * absent. 0, -ENOENT (no such profile), -EBADMSG, -ENOMEM. */
int decode_config(const char *json, size_t len, const char *profile, char **picked, char **project_id,
		  char **base_url);

#endif
