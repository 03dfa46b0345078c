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
	DECODE_REPOS,  /* GetRepo: RepoSet[], RepoName */
	DECODE_IMAGES, /* GetRepoImage: ImageSet[], ImageName */
	DECODE_TAGS,   /* GetImageTag: TagSet[], TagName, Digest */
	DECODE_NONE,   /* only RetCode/Message (any action) */
};

/* An item whose name is absent, not a string or empty, or any of whose
 * strings is longer than DECODE_MAX_STRING, is skipped (and counted); so
 * is one whose name can never be a file name (names_valid_entry: empty,
 * ".", "..", a '/' in a tag or repo name, over 255 bytes, a control, a C1
 * or bidirectional control, bytes that are not UTF-8), which is never
 * copied at all. */
struct decode_item {
	char *name;   /* RepoName / ImageName / TagName; never NULL */
	char *time;   /* UpdateTime as text (a JSON number is printed in
			 decimal: an integer as such, otherwise "%.17g");
			 NULL when absent or of another type */
	char *digest; /* Digest (tags only); NULL when absent or empty */
	size_t pos;   /* its index in the reply's list, skipped items
			 counted: where it stands in the server's order */
};

#define DECODE_SHOWN_MAX 96 /* bytes of a refused name kept for a log line */

struct decode_reply {
	long retcode;	 /* RetCode, from an int or a numeric string */
	char *message;	 /* Message, NULL when absent; cut at DECODE_MAX_STRING
			    bytes, control bytes and escape sequences shown
			    as \xNN (log_escape), so it is safe to print */
	long long total; /* TotalCount, -1 when absent */
	struct decode_item *items;
	size_t n;
	size_t skipped;			/* items dropped for their shape or their name */
	size_t badnames;		/* of those, the ones dropped for their name */
	char badname[DECODE_SHOWN_MAX]; /* the first of them, log_escape'd */
};

/* Decodes one API reply. Returns 0 for a JSON object with a RetCode (even
 * a non-zero one: check out->retcode; the list is then not looked at);
 * -EBADMSG for anything else (not JSON, trailing non-space bytes, not an
 * object, no RetCode or one that is not an integer, a list that is not an
 * array when RetCode is 0, a negative, fractional or absurd TotalCount);
 * -E2BIG for more than DECODE_MAX_ITEMS items; -ENOMEM; -EINVAL for an
 * unknown kind. With RetCode 0 a missing (or null) list counts as empty
 * only when TotalCount is 0; with TotalCount absent or positive it is
 * -EBADMSG. out is always initialised; on an error it is left empty (and
 * may still be released). */
int decode_reply(const char *json, size_t len, enum decode_list kind, struct decode_reply *out);
/* The same, refusing with -E2BIG before parsing a text of more than
 * max_values JSON values (counted in one pass; 0 = no such cap), which
 * bounds the parser's memory at about 80 bytes a value plus the text. */
int decode_reply_bounded(const char *json, size_t len, enum decode_list kind, size_t max_values,
			 struct decode_reply *out);
void decode_reply_release(struct decode_reply *r);

/* ~/.ucloud/credential.json: a JSON array of {"public_key","private_key",
 * "profile"}. Picks the first entry of profile (NULL = "default"; an entry
 * without "profile" is "default"). Sets *pub and *priv to malloc'd copies
 * (the caller wipes and frees them); both NULL on failure. The parsed
 * private keys are wiped before the document is freed. 0, -ENOENT (no such
 * profile), -EBADMSG (not an array; the entry lacks a non-empty key
 * string), -ENOMEM. */
int decode_credentials(const char *json, size_t len, const char *profile, char **pub, char **priv);

/* ~/.ucloud/config.json: a JSON array of {"profile","project_id",
 * "base_url","active",...}. With profile NULL, picks the first entry with
 * "active": true (a JSON true), else "default"; reports the profile it
 * picked in *picked. Each out-pointer may be NULL; strings are malloc'd,
 * NULL when absent, empty or not a string; all NULL on failure. 0,
 * -ENOENT (no such profile), -EBADMSG, -ENOMEM. */
int decode_config(const char *json, size_t len, const char *profile, char **picked, char **project_id, char **base_url);

#endif
