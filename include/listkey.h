/* listkey.h — the cache key of a listing: which API call fills it (the
 * repositories, a repository's images, an image's tags, or one tag alone)
 * as one string, and back.
 *
 *	R			the repositories
 *	I<len>:<repo>		a repository's images
 *	T<len>:<repo><image>	an image's tags
 *	t<len>:<repo><len>:<image><tag>	one tag alone
 *
 * Names are length-prefixed, so no name can make two keys collide.
 * Pure functions: thread-safe.
 */
#ifndef IMGTAGFS_LISTKEY_H
#define IMGTAGFS_LISTKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "names.h"
#include "uhub.h"

/* The key of the repositories' listing (the root's, for a whole-registry
 * mount): the same string listkey_format writes for UHUB_REPOS. */
#define LISTKEY_REPOS "R"

/* Room for any key, and for an image name parsed back out of one. */
#define LISTKEY_MAX (3 * NAMES_MAX + 4096)

struct listkey {
	enum uhub_kind kind;
	const char *repo;  /* NULL for UHUB_REPOS */
	const char *image; /* tags only */
	const char *tag;   /* one tag alone, else NULL */
};

/* Storage for the strings listkey_parse hands back. */
struct listkey_buf {
	char repo[NAMES_MAX + 1];
	char image[LISTKEY_MAX];
	char tag[NAMES_MAX + 1];
};

/* Writes k's key into key (LISTKEY_MAX bytes). */
void listkey_format(char *key, const struct listkey *k);
/* The inverse: k's strings point into b. 0 or -EINVAL. */
int listkey_parse(const char *key, struct listkey *k, struct listkey_buf *b);
/* The repository of key into repo (NAMES_MAX + 1 bytes), without the
 * rest: 0, or -EINVAL for the repositories' listing or a bad key. */
int listkey_repo(const char *key, char *repo);
/* True when key is a repository's image listing, whose entry names are
 * image names (with '/'); every other listing's are one path component. */
bool listkey_lists_images(const char *key);
/* "/repo/image/tag" for a log line ("?" for a bad key). */
void listkey_describe(const char *key, char *out, size_t n);

#endif
