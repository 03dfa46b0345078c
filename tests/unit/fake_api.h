/* fake_api.h — an in-memory UHub API behind a struct uhub_transport, for
 * unit tests of uhub.c and tree.c. It decodes the signed form body, checks
 * the signature, pages with an optional server cap, counts calls, and can
 * fail the next calls in chosen ways. DeleteRepoImage deletes a tag (230
 * when it is not there) or, without TagName, an image with its tags. Not thread-safe for setup; posts are
 * serialised by its own lock. */
#ifndef IMGTAGFS_FAKE_API_H
#define IMGTAGFS_FAKE_API_H

#include <stddef.h>

#include "uhub.h"

#define FAKE_PUB "ucloudsomeone@example.com1296235120854146120"
#define FAKE_PRIV "46f09bb9fab4f12dfc160dae12273d5332b5debe"

enum fake_fault {
	FAKE_OK,
	FAKE_RETCODE,	/* answer RetCode arg */
	FAKE_HTTP,	/* answer HTTP status arg */
	FAKE_TRANSPORT, /* fail the post with -arg */
	FAKE_NOTJSON,	/* HTTP 200 with an HTML body */
	FAKE_LOST,	/* carried out, then the post fails with -arg (a reply lost) */
};

struct fake_api *fake_api_new(void);
void fake_api_free(struct fake_api *f);
void fake_api_add_repo(struct fake_api *f, const char *repo, const char *time);
void fake_api_add_image(struct fake_api *f, const char *repo, const char *image, const char *time);
void fake_api_add_tag(struct fake_api *f, const char *repo, const char *image, const char *tag, const char *digest,
		      const char *time);
/* count tags named prefix00000.. with distinct digests and times. */
void fake_api_add_tags(struct fake_api *f, const char *repo, const char *image, const char *prefix, size_t count);
void fake_api_del_tag(struct fake_api *f, const char *repo, const char *image, const char *tag);
/* The server's cap on Limit (0 = none). */
void fake_api_set_cap(struct fake_api *f, unsigned cap);
/* TotalCount is multiplied by factor (a lying server). */
void fake_api_set_total_factor(struct fake_api *f, unsigned factor);
/* Pages after the first (Offset > 0) report TotalCount total (0: the
 * truth), and hold at most one item when trickle is set. */
void fake_api_set_late_total(struct fake_api *f, long long total);
void fake_api_set_trickle(struct fake_api *f, int trickle);
/* The next n calls fail as given. */
void fake_api_fail_next(struct fake_api *f, unsigned n, enum fake_fault kind, long arg);
/* The failures set above hit only calls of action (NULL: any, the default). */
void fake_api_fail_action(struct fake_api *f, const char *action);
/* The next skip calls succeed before the failures set above begin. */
void fake_api_fail_skip(struct fake_api *f, unsigned skip);
/* Changes the list between pages: once call number `call` (1-based, any
 * action) has been answered, tag is deleted (add 0) or pushed (add 1,
 * with a digest and time of its own). Up to 16 at once; every
 * `every` calls from then on when every is not 0 (churn). Tag "^" is the
 * tag that sorts first (a push of "^" sorts first). With tag NULL the
 * change is to image itself, with its tags ("^": the first image; a
 * push of "$" pushes one that sorts last). */
void fake_api_change_after(struct fake_api *f, unsigned call, unsigned every, int add, const char *repo,
			   const char *image, const char *tag);
/* Whether the fake holds image now. */
int fake_api_has_image(struct fake_api *f, const char *repo, const char *image);
/* Forgets the changes scheduled with fake_api_change_after. */
void fake_api_change_clear(struct fake_api *f);
/* Whether the fake holds tag now. */
int fake_api_has_tag(struct fake_api *f, const char *repo, const char *image, const char *tag);
/* Calls of action (NULL = all); with tagname non-NULL only those with
 * TagName (any value if "*"). */
unsigned fake_api_calls(struct fake_api *f, const char *action, const char *tagname);
void fake_api_reset_calls(struct fake_api *f);
struct uhub_transport fake_api_transport(struct fake_api *f);
/* A uhub client over the fake with page size and max_requests given. */
struct uhub *fake_api_client(struct fake_api *f, unsigned page, unsigned max_requests);

#endif
