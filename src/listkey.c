/* listkey.c — cache keys of listings and their inverse (listkey.h). The
 * inverse is what lets background jobs, which are queued by key alone,
 * know which API call to make. */
#include "listkey.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void listkey_format(char *key, const struct listkey *k)
{
	switch (k->kind) {
	case UHUB_REPOS:
		snprintf(key, LISTKEY_MAX, "%s", LISTKEY_REPOS);
		break;
	case UHUB_IMAGES:
		snprintf(key, LISTKEY_MAX, "I%zu:%s", strlen(k->repo), k->repo);
		break;
	case UHUB_TAGS:
		if (k->tag)
			snprintf(key, LISTKEY_MAX, "t%zu:%s%zu:%s%s", strlen(k->repo), k->repo, strlen(k->image),
				 k->image, k->tag);
		else
			snprintf(key, LISTKEY_MAX, "T%zu:%s%s", strlen(k->repo), k->repo, k->image);
		break;
	case UHUB_DELETE: /* not a listing: no key */
		snprintf(key, LISTKEY_MAX, "-");
		break;
	}
}

/* "<len>:" then len bytes of *p into out (cap bytes): *p moves past them. */
static int take_counted(const char **p, char *out, size_t cap)
{
	char *end;
	unsigned long n = strtoul(*p, &end, 10);

	if (end == *p || *end != ':' || n >= cap || strlen(end + 1) < n)
		return -EINVAL;
	memcpy(out, end + 1, n);
	out[n] = '\0';
	*p = end + 1 + n;
	return 0;
}

int listkey_parse(const char *key, struct listkey *k, struct listkey_buf *b)
{
	const char *p = key + 1;

	memset(k, 0, sizeof(*k));
	if (strcmp(key, LISTKEY_REPOS) == 0) {
		k->kind = UHUB_REPOS;
		return 0;
	}
	if ((key[0] != 'I' && key[0] != 'T' && key[0] != 't') || take_counted(&p, b->repo, sizeof(b->repo)))
		return -EINVAL;
	k->repo = b->repo;
	if (key[0] == 'I') {
		k->kind = UHUB_IMAGES;
		return *p ? -EINVAL : 0;
	}
	k->kind = UHUB_TAGS;
	k->image = b->image;
	if (key[0] == 'T') {
		if (strlen(p) >= sizeof(b->image))
			return -EINVAL;
		memcpy(b->image, p, strlen(p) + 1);
		return 0;
	}
	if (take_counted(&p, b->image, sizeof(b->image)) || strlen(p) > NAMES_MAX)
		return -EINVAL;
	memcpy(b->tag, p, strlen(p) + 1);
	k->tag = b->tag;
	return 0;
}

int listkey_repo(const char *key, char *repo)
{
	const char *p = key + 1;

	if (key[0] != 'I' && key[0] != 'T' && key[0] != 't')
		return -EINVAL;
	return take_counted(&p, repo, NAMES_MAX + 1);
}

void listkey_describe(const char *key, char *out, size_t n)
{
	struct listkey_buf *b = malloc(sizeof(*b));
	struct listkey k;

	if (!b || listkey_parse(key, &k, b))
		snprintf(out, n, "?");
	else
		snprintf(out, n, "/%s%s%s%s%s", k.repo ? k.repo : "", k.image ? "/" : "", k.image ? k.image : "",
			 k.tag ? "/" : "", k.tag ? k.tag : "");
	free(b);
}

bool listkey_lists_images(const char *key)
{
	return key[0] == 'I';
}
