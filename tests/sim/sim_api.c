/* sim_api.c — the API logic of uhub-sim: one decoded request in, one
 * reply (RetCode, Message, a page of items) out.
 *
 * The checks run in the real gateway's order (UHUB-API.md, "Error codes"),
 * so a client sees the same code for the same mistake: Action, Signature,
 * PublicKey, the signature itself, the action's parameters, ProjectId, and
 * only then the names looked up in the registry. Every project sees the same
 * registry: the simulator checks that a ProjectId exists, nothing more.
 */
#include "sim_api.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sign.h"

struct sim_api {
	struct sim_registry *reg;
	struct params *keys;	 /* name = public key, value = private key */
	struct params *projects; /* names; the first is the default */
	atomic_size_t max_limit;
	atomic_int time_style;
	atomic_bool retcode_string;
	atomic_bool trickle;
	atomic_ullong late_total;
	atomic_size_t pad_bytes;
};

/* A request's paging, once checked. */
struct paging {
	size_t offset, limit;
};

typedef int (*run_fn)(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out);

struct action {
	const char *name;
	const char *required[3];
	bool paged;
	run_fn run;
};

static int run_get_repo(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out);
static int run_get_repo_image(struct sim_api *a, const struct params *p, const struct paging *pg,
			      struct sim_reply *out);
static int run_get_image_tag(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out);
static int run_create_repo(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out);
static int run_delete_repo(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out);
/* What the API's documentation leaves open, decided here (uhub-sim(1)):
 * a missing repository, image or tag is RetCode 230 naming it, so
 * deleting a tag twice is an error the second time; deleting an image's
 * last tag leaves the image listed with no tags (as a Docker registry
 * keeps an emptied repository), until it is deleted without TagName. */
static int run_delete_repo_image(struct sim_api *a, const struct params *p, const struct paging *pg,
				 struct sim_reply *out);

static const struct action actions[] = {
    {"GetRepo", {NULL}, true, run_get_repo},
    {"GetRepoImage", {"RepoName", NULL}, true, run_get_repo_image},
    {"GetImageTag", {"RepoName", "ImageName", NULL}, true, run_get_image_tag},
    {"CreateRepo", {"RepoName", NULL}, false, run_create_repo},
    {"DeleteRepo", {"RepoName", NULL}, false, run_delete_repo},
    {"DeleteRepoImage", {"RepoName", "ImageName", NULL}, false, run_delete_repo_image},
};

static const struct action *find_action(const char *name)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}

bool sim_api_known_action(const char *action)
{
	return action && find_action(action);
}

bool sim_api_list_action(const char *action)
{
	const struct action *act = action ? find_action(action) : NULL;

	return act && act->paged;
}

/* ---- replies ---- */

void sim_reply_release(struct sim_reply *r)
{
	if (r)
		sim_page_release(&r->page);
}

static void reply_init(struct sim_reply *r, const char *action)
{
	*r = (struct sim_reply){0};
	snprintf(r->action, sizeof(r->action), "%sResponse", action ? action : "");
}

void sim_reply_error(struct sim_reply *r, const char *action, int retcode, const char *message)
{
	reply_init(r, action);
	r->retcode = retcode;
	snprintf(r->message, sizeof(r->message), "%s", message);
}

/* An error whose message names something: "Params [RepoName] not available". */
static void reply_fail(struct sim_reply *r, int retcode, const char *pre, const char *what, const char *post)
{
	sim_page_release(&r->page);
	r->kind = SIM_LIST_NONE;
	r->retcode = retcode;
	snprintf(r->message, sizeof(r->message), "%s%s%s", pre, what, post);
}

static void reply_param(struct sim_reply *r, const char *name)
{
	reply_fail(r, 230, "Params [", name, "] not available");
}

/* Maps a registry error to the reply; returns what sim_api_handle returns. */
static int reply_registry_error(struct sim_reply *r, int err)
{
	if (err == -ENOMEM) {
		reply_fail(r, 2000, "", "Internal error", "");
		return err;
	}
	if (err == -ENOENT)
		reply_param(r, "RepoName");
	else if (err == -ENXIO)
		reply_param(r, "ImageName");
	else if (err == -ESRCH)
		reply_param(r, "TagName");
	else if (err)
		reply_fail(r, 230, "", "Request failed", "");
	return 0;
}

/* ---- set-up and knobs ---- */

struct sim_api *sim_api_new(struct sim_registry *reg)
{
	struct sim_api *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->reg = reg;
	a->keys = params_new();
	a->projects = params_new();
	if (!a->keys || !a->projects) {
		sim_api_free(a);
		return NULL;
	}
	atomic_init(&a->max_limit, 0);
	atomic_init(&a->time_style, SIM_TIME_PLAIN);
	atomic_init(&a->retcode_string, false);
	atomic_init(&a->trickle, false);
	atomic_init(&a->late_total, 0);
	atomic_init(&a->pad_bytes, 0);
	return a;
}

void sim_api_free(struct sim_api *a)
{
	if (!a)
		return;
	params_free(a->keys);
	params_free(a->projects);
	free(a);
}

int sim_api_add_key(struct sim_api *a, const char *public_key, const char *private_key)
{
	if (!*public_key || !*private_key)
		return -EINVAL;
	return params_set(a->keys, public_key, private_key);
}

int sim_api_add_project(struct sim_api *a, const char *id)
{
	if (!*id)
		return -EINVAL;
	return params_set(a->projects, id, "");
}

size_t sim_api_key_count(const struct sim_api *a)
{
	return params_count(a->keys);
}

size_t sim_api_project_count(const struct sim_api *a)
{
	return params_count(a->projects);
}

void sim_api_set_max_limit(struct sim_api *a, size_t max_limit)
{
	atomic_store(&a->max_limit, max_limit);
}

size_t sim_api_max_limit(const struct sim_api *a)
{
	return atomic_load(&a->max_limit);
}

void sim_api_set_time_style(struct sim_api *a, enum sim_time_style s)
{
	atomic_store(&a->time_style, (int)s);
}

enum sim_time_style sim_api_time_style(const struct sim_api *a)
{
	return (enum sim_time_style)atomic_load(&a->time_style);
}

void sim_api_set_retcode_string(struct sim_api *a, bool on)
{
	atomic_store(&a->retcode_string, on);
}

bool sim_api_retcode_string(const struct sim_api *a)
{
	return atomic_load(&a->retcode_string);
}

void sim_api_set_trickle(struct sim_api *a, bool on)
{
	atomic_store(&a->trickle, on);
}

bool sim_api_trickle(const struct sim_api *a)
{
	return atomic_load(&a->trickle);
}

void sim_api_set_late_total(struct sim_api *a, unsigned long long late_total)
{
	atomic_store(&a->late_total, late_total);
}

unsigned long long sim_api_late_total(const struct sim_api *a)
{
	return atomic_load(&a->late_total);
}

void sim_api_set_pad_bytes(struct sim_api *a, size_t pad_bytes)
{
	atomic_store(&a->pad_bytes, pad_bytes);
}

size_t sim_api_pad_bytes(const struct sim_api *a)
{
	return atomic_load(&a->pad_bytes);
}

static const char *const style_names[] = {"plain", "unix", "number", "rfc3339"};

int sim_time_style_parse(const char *s, enum sim_time_style *out)
{
	for (size_t i = 0; i < sizeof(style_names) / sizeof(style_names[0]); i++) {
		if (strcmp(s, style_names[i]) == 0) {
			*out = (enum sim_time_style)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sim_time_style_name(enum sim_time_style s)
{
	return (size_t)s < sizeof(style_names) / sizeof(style_names[0]) ? style_names[s] : "?";
}

/* ---- paging ---- */

int sim_api_parse_count(const char *s, size_t def, size_t *out)
{
	unsigned long v = 0;

	if (!s) {
		*out = def;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > SIM_COUNT_MAX)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

size_t sim_api_effective_limit(size_t limit, size_t max_limit)
{
	return max_limit && max_limit < limit ? max_limit : limit;
}

/* ---- the checks ---- */

/* Steps 160 to 171: is there an action, and who is calling. */
static bool caller_ok(const struct sim_api *a, const struct params *p, const struct action **act, struct sim_reply *out)
{
	const char *action = params_get(p, "Action");
	const char *pub = params_get(p, "PublicKey");
	const char *priv = pub ? params_get(a->keys, pub) : NULL;

	if (!action || !*action) {
		reply_fail(out, 160, "Missing Action", "", "");
		return false;
	}
	*act = find_action(action);
	if (!*act) {
		reply_fail(out, 161, "Action [", action, "] not found");
		return false;
	}
	if (!params_get(p, "Signature")) {
		reply_fail(out, 170, "Missing Signature", "", "");
		return false;
	}
	if (!priv) {
		reply_fail(out, 172, "User Not Exists", "", "");
		return false;
	}
	if (!sign_verify(p, priv)) {
		reply_fail(out, 171, "Signature VerifyAC Error", "", "");
		return false;
	}
	return true;
}

/* Docker's repository-name rule, as far as UHub is known to allow it. */
static bool repo_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool one_of(const char *v, const char *a, const char *b)
{
	return !v || strcmp(v, a) == 0 || strcmp(v, b) == 0;
}

/* The action's own parameters: the name of the first bad one, or NULL. */
static const char *bad_param(const struct action *act, const struct params *p, struct paging *pg)
{
	for (size_t i = 0; act->required[i]; i++) {
		const char *v = params_get(p, act->required[i]);

		if (!v || !*v)
			return act->required[i];
	}
	if (act->paged && sim_api_parse_count(params_get(p, "Offset"), 0, &pg->offset))
		return "Offset";
	if (act->paged && sim_api_parse_count(params_get(p, "Limit"), SIM_DEFAULT_LIMIT, &pg->limit))
		return "Limit";
	if (act->run == run_get_repo && !one_of(params_get(p, "Type"), "private", "public"))
		return "Type";
	if (act->run == run_create_repo && !one_of(params_get(p, "IsShared"), "true", "false"))
		return "IsShared";
	if (act->run == run_create_repo && !repo_name_ok(params_get(p, "RepoName")))
		return "RepoName";
	return NULL;
}

static bool project_ok(const struct sim_api *a, const struct params *p, struct sim_reply *out)
{
	const char *id = params_get(p, "ProjectId");

	if (!id || !*id || params_get(a->projects, id))
		return true;
	reply_fail(out, 292, "Project [", id, "] not exists");
	return false;
}

/* late_total: a later page's TotalCount, whatever the truth. */
static int late_total(const struct sim_api *a, const struct paging *pg, int err, struct sim_reply *out)
{
	unsigned long long t = sim_api_late_total(a);

	if (t && pg->offset > 0 && out->kind != SIM_LIST_NONE && out->retcode == 0)
		out->page.total = (size_t)t;
	return err;
}

int sim_api_handle(struct sim_api *a, const struct params *p, struct sim_reply *out)
{
	const struct action *act = NULL;
	struct paging pg = {0, SIM_DEFAULT_LIMIT};
	const char *bad;

	reply_init(out, params_get(p, "Action"));
	if (!caller_ok(a, p, &act, out))
		return 0;
	bad = bad_param(act, p, &pg);
	if (bad) {
		reply_param(out, bad);
		return 0;
	}
	if (!project_ok(a, p, out))
		return 0;
	pg.limit = sim_api_effective_limit(pg.limit, sim_api_max_limit(a));
	if (act->paged && pg.offset > 0 && sim_api_trickle(a))
		pg.limit = sim_api_effective_limit(pg.limit, 1);
	return late_total(a, &pg, act->run(a, p, &pg, out), out);
}

/* ---- the actions ---- */

static int run_get_repo(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out)
{
	const char *type = params_get(p, "Type");
	bool is_public = !type || strcmp(type, "public") == 0;

	out->kind = SIM_LIST_REPOS;
	return reply_registry_error(out, sim_registry_list_repos(a->reg, is_public, pg->offset, pg->limit, &out->page));
}

static int run_get_repo_image(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out)
{
	int err = sim_registry_list_images(a->reg, params_get(p, "RepoName"), pg->offset, pg->limit, &out->page);

	out->kind = SIM_LIST_IMAGES;
	return reply_registry_error(out, err);
}

static int run_get_image_tag(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out)
{
	const char *tag = params_get(p, "TagName");
	int err = sim_registry_list_tags(a->reg, params_get(p, "RepoName"), params_get(p, "ImageName"),
					 tag && *tag ? tag : NULL, pg->offset, pg->limit, &out->page);

	out->kind = SIM_LIST_TAGS;
	return reply_registry_error(out, err);
}

static int run_create_repo(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out)
{
	const char *shared = params_get(p, "IsShared");
	struct sim_repo_info info = {
	    .name = params_get(p, "RepoName"),
	    .description = params_get(p, "Description"),
	    .is_shared = shared && strcmp(shared, "true") == 0,
	    .create_time = (int64_t)time(NULL),
	};
	int err;

	(void)pg;
	info.update_time = info.create_time;
	err = sim_registry_add_repo(a->reg, &info);
	if (err == -EEXIST) {
		reply_fail(out, 230, "Repo [", info.name, "] already exists");
		return 0;
	}
	return reply_registry_error(out, err);
}

static int run_delete_repo(struct sim_api *a, const struct params *p, const struct paging *pg, struct sim_reply *out)
{
	(void)pg;
	return reply_registry_error(out, sim_registry_delete(a->reg, params_get(p, "RepoName"), NULL, NULL));
}

/* What the API's documentation leaves open, decided here (uhub-sim(1)):
 * a missing repository, image or tag is RetCode 230 naming it, so
 * deleting a tag twice is an error the second time; deleting an image's
 * last tag leaves the image listed with no tags (as a Docker registry
 * keeps an emptied repository), until it is deleted without TagName. */
static int run_delete_repo_image(struct sim_api *a, const struct params *p, const struct paging *pg,
				 struct sim_reply *out)
{
	const char *tag = params_get(p, "TagName");

	(void)pg;
	return reply_registry_error(out, sim_registry_delete(a->reg, params_get(p, "RepoName"),
							     params_get(p, "ImageName"), tag && *tag ? tag : NULL));
}
