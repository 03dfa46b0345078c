/* sim_registry.h — uhub-sim's registry: repositories, images and tags.
 *
 * One rwlock guards the whole tree: listings copy their page out under the
 * read lock (so no reply is formatted while it is held), every mutation
 * takes the write lock. All functions here lock for themselves and are safe
 * to call from any thread. Each level is kept sorted by name in plain byte
 * order, which makes paging stable and every page predictable.
 * Times are Unix seconds; 0 means "not given" while a registry is being
 * built and is replaced by sim_registry_settle().
 */
#ifndef UHUB_SIM_REGISTRY_H
#define UHUB_SIM_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Used for times a data file leaves out: 2026-11-01 00:00:00 UTC. */
#define SIM_BASE_TIME ((int64_t)1793491200)
/* --gen spreads tag times over the 30 days from 2026-10-01 00:00:00 UTC. */
#define SIM_GEN_TIME ((int64_t)1790812800)

struct sim_registry;

/* One row of a listing, copied out of the registry; all strings owned. */
struct sim_item {
	char *name;	   /* RepoName, ImageName or TagName */
	char *repo;	   /* images: their repository; else NULL */
	char *description; /* repos; else NULL */
	char *digest;	   /* tags; NULL when the tag has no digest */
	char *latest_tag;  /* images; NULL when the image has no tags */
	int64_t create_time;
	int64_t update_time;
	long long pull_count;
	bool is_shared, is_outside;
};

/* A page of a listing: items [offset, offset + n) of a list of total. */
struct sim_page {
	struct sim_item *items;
	size_t n;
	size_t total; /* the whole list's size before paging */
};

/* Frees the items; p is left empty. NULL-safe. */
void sim_page_release(struct sim_page *p);
/* Paging maths: the first index and the count of a page of at most limit
 * items starting at offset in a list of total (both clamped to the list). */
void sim_page_window(size_t total, size_t offset, size_t limit, size_t *start, size_t *n);

struct sim_repo_info {
	const char *name;
	const char *description; /* NULL: "" */
	bool is_public, is_shared, is_outside;
	int64_t create_time, update_time; /* 0: derived by sim_registry_settle */
};

struct sim_image_info {
	const char *name;
	int64_t create_time, update_time; /* 0: derived by sim_registry_settle */
	long long pull_count;
};

/* A push: creates the repository (with is_public) and image as needed and
 * adds the tag or replaces its digest and time. */
struct sim_push {
	const char *repo, *image, *tag;
	const char *digest; /* NULL: the tag has no digest */
	int64_t time;
	bool is_public;
};

/* Many tags for one image, deterministically: PREFIX + i zero-padded to
 * width digits (i = 1..count), time start + (i - 1) * step, digest from
 * seed and the names. */
struct sim_gen_tags {
	const char *prefix;
	unsigned long count;
	unsigned width; /* 0: max(4, digits of count) */
	int64_t start;	/* 0: the image's update time minus count * step */
	int64_t step;
	uint64_t seed;
};

/* --gen repos=R,images=I,tags=T,seed=S,nested=N */
struct sim_gen {
	unsigned long repos, images, tags; /* images per repo, tags per image */
	uint64_t seed;
	unsigned long nested; /* every Nth image is "team/NAME"; 0: none */
};

/* Empty registry, NULL on -ENOMEM. sim_registry_free(NULL) is a no-op. */
struct sim_registry *sim_registry_new(void);
void sim_registry_free(struct sim_registry *r);

/* Parses a --gen spec into g (defaults: repos=2, images=5, tags=10,
 * seed=1, nested=5). 0, -EINVAL (bad syntax or key), -E2BIG (too large). */
int sim_gen_parse(const char *spec, struct sim_gen *g);
/* Fills r from g: repos "repo-NN" (private), images "img-NN" with every
 * nested-th one called "team/img-NN", tags "tag-NNNN" with times within 30
 * days after SIM_GEN_TIME and sha256 digests, all from the seed.
 * 0, -EEXIST if a name is taken, -ENOMEM. */
int sim_registry_generate(struct sim_registry *r, const struct sim_gen *g);
/* The deterministic digest for a tag: "sha256:" + 64 hex (not a real
 * hash, just well spread), written with its NUL to out[72]. */
void sim_registry_digest(uint64_t seed, const char *repo, const char *image, const char *tag, char out[72]);

/* Builders. 0, -EINVAL (empty name), -EEXIST, -ENOENT (no such repo),
 * -ENXIO (no such image), -ENOMEM. */
int sim_registry_add_repo(struct sim_registry *r, const struct sim_repo_info *info);
int sim_registry_add_image(struct sim_registry *r, const char *repo, const struct sim_image_info *info);
int sim_registry_gen_tags(struct sim_registry *r, const char *repo, const char *image, const struct sim_gen_tags *g);
/* Derives what a data file left out: image times from their tags, repo
 * times from their images, SIM_BASE_TIME for anything still unknown. */
void sim_registry_settle(struct sim_registry *r);
/* Numbers of repositories, images and tags (for the start-up summary). */
void sim_registry_counts(struct sim_registry *r, size_t *repos, size_t *images, size_t *tags);

/* 0, -ENOMEM. Names may be any string, even "" or "..": the simulator must
 * be able to serve what a hostile server would. Each successful push,
 * delete and shuffle counts as one change (struct sim_dump). */
int sim_registry_push(struct sim_registry *r, const struct sim_push *p);
/* Deletes a repository (image NULL), an image with its tags (tag NULL) or
 * one tag. 0, -ENOENT (repo), -ENXIO (image), -ESRCH (tag). */
int sim_registry_delete(struct sim_registry *r, const char *repo, const char *image, const char *tag);
/* The shuffle fault's mutation of one image (see sim_fault.h): an odd
 * event pushes tag "0shuffle-NNNNNN" (NNNNNN = event), which sorts before
 * every usual tag name; an even event deletes the image's last tag by
 * name. 0, -ENOENT, -ENXIO, -ENOMEM. */
int sim_registry_shuffle(struct sim_registry *r, const char *repo, const char *image, unsigned long event, int64_t now);

/* The whole registry at one instant (sim_registry_dump): what a test that
 * checks a client against the registry's history starts from and ends at.
 * Strings owned; sim_dump_release frees them. */
struct sim_dump_image {
	struct sim_item info; /* name, times, pull_count, latest_tag */
	struct sim_page tags; /* every tag, by name */
};

struct sim_dump_repo {
	struct sim_item info; /* name, description, times, flags */
	bool is_public;
	struct sim_dump_image *images; /* by name */
	size_t nimages;
};

struct sim_dump {
	struct sim_dump_repo *repos; /* by name, private and public */
	size_t nrepos;
	/* Mutations since the registry was built (push, delete, shuffle):
	 * a test that made N of them can tell nothing else changed it. */
	unsigned long long changes;
};

/* Copies the whole registry out under one read lock into *out. 0 or
 * -ENOMEM (out left empty). */
int sim_registry_dump(struct sim_registry *r, struct sim_dump *out);
/* Frees what a dump holds; d is left empty. NULL-safe. */
void sim_dump_release(struct sim_dump *d);

/* Listings: on success *out holds the page (sim_page_release it).
 * Repositories of one type. 0 or -ENOMEM. */
int sim_registry_list_repos(struct sim_registry *r, bool is_public, size_t offset, size_t limit, struct sim_page *out);
/* 0, -ENOENT (no such repo), -ENOMEM. */
int sim_registry_list_images(struct sim_registry *r, const char *repo, size_t offset, size_t limit,
			     struct sim_page *out);
/* tag_filter non-NULL: only that tag (a list of 0 or 1).
 * 0, -ENOENT (repo), -ENXIO (image), -ENOMEM. */
int sim_registry_list_tags(struct sim_registry *r, const char *repo, const char *image, const char *tag_filter,
			   size_t offset, size_t limit, struct sim_page *out);

#endif
