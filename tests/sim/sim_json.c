/* sim_json.c — uhub-sim's JSON: reply bodies, JSON request bodies, the
 * registry data file and the stats answer (the simulator's only cJSON user).
 *
 * Integers are written as raw numbers (cJSON keeps numbers as doubles,
 * which would not round-trip every 64-bit value) and times in the style the
 * simulator was asked for. The data-file reader is strict and says where it
 * stopped, because a silently ignored typo in a test fixture is a test that
 * checks nothing.
 */
#include "sim_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timefmt.h"

#define DATA_FILE_MAX (256u << 20)

/* ---- replies ---- */

static bool add_raw_int(cJSON *o, const char *key, long long v)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", v);
	return cJSON_AddRawToObject(o, key, num) != NULL;
}

static bool add_time(cJSON *o, const char *key, int64_t t, enum sim_time_style style)
{
	char s[64];
	int err = 0;

	switch (style) {
	case SIM_TIME_NUMBER:
		return add_raw_int(o, key, (long long)t);
	case SIM_TIME_UNIX:
		snprintf(s, sizeof(s), "%" PRId64, t);
		break;
	case SIM_TIME_RFC3339:
		err = timefmt_rfc3339(t, s, sizeof(s));
		break;
	default:
		err = timefmt_plain(t, SIM_TZ_OFFSET, s, sizeof(s));
		break;
	}
	if (err)
		snprintf(s, sizeof(s), "%" PRId64, t);
	return cJSON_AddStringToObject(o, key, s) != NULL;
}

static bool add_repo_item(cJSON *o, const struct sim_item *it, enum sim_time_style ts)
{
	return cJSON_AddStringToObject(o, "RepoName", it->name) &&
	       cJSON_AddStringToObject(o, "Description", it->description ? it->description : "") &&
	       add_time(o, "CreateTime", it->create_time, ts) && add_time(o, "UpdateTime", it->update_time, ts) &&
	       cJSON_AddStringToObject(o, "IsShared", it->is_shared ? "true" : "false") &&
	       cJSON_AddStringToObject(o, "IsOutSide", it->is_outside ? "true" : "false");
}

static bool add_image_item(cJSON *o, const struct sim_item *it, enum sim_time_style ts)
{
	return cJSON_AddStringToObject(o, "RepoName", it->repo ? it->repo : "") &&
	       cJSON_AddStringToObject(o, "ImageName", it->name) &&
	       cJSON_AddStringToObject(o, "LatestTag", it->latest_tag ? it->latest_tag : "") &&
	       add_raw_int(o, "PullCount", it->pull_count) && add_time(o, "CreateTime", it->create_time, ts) &&
	       add_time(o, "UpdateTime", it->update_time, ts);
}

/* A Digest of pad bytes ("sha256:" and 'f's): a big item of a valid
 * shape, for the client's memory bounds. */
static bool add_padded_digest(cJSON *o, size_t pad)
{
	char *d = malloc(pad + 1);
	bool ok;

	if (!d)
		return false;
	memset(d, 'f', pad);
	memcpy(d, "sha256:", pad < 7 ? pad : 7);
	d[pad] = '\0';
	ok = cJSON_AddStringToObject(o, "Digest", d) != NULL;
	free(d);
	return ok;
}

static bool add_tag_item(cJSON *o, const struct sim_item *it, const struct sim_json_style *st)
{
	if (!cJSON_AddStringToObject(o, "TagName", it->name) || !add_time(o, "UpdateTime", it->update_time, st->time))
		return false;
	if (st->pad_bytes)
		return add_padded_digest(o, st->pad_bytes);
	return !it->digest || cJSON_AddStringToObject(o, "Digest", it->digest);
}

static bool add_list(cJSON *root, const struct sim_reply *r, const struct sim_json_style *st)
{
	static const char *const set_name[] = {NULL, "RepoSet", "ImageSet", "TagSet"};
	unsigned factor = st->total_factor ? st->total_factor : 1;
	cJSON *set;

	if (!add_raw_int(root, "TotalCount", (long long)r->page.total * factor))
		return false;
	set = cJSON_AddArrayToObject(root, set_name[r->kind]);
	for (size_t i = 0; set && i < r->page.n; i++) {
		cJSON *o = cJSON_CreateObject();
		bool ok;

		if (!o || !cJSON_AddItemToArray(set, o)) {
			cJSON_Delete(o);
			return false;
		}
		if (r->kind == SIM_LIST_REPOS)
			ok = add_repo_item(o, &r->page.items[i], st->time);
		else if (r->kind == SIM_LIST_IMAGES)
			ok = add_image_item(o, &r->page.items[i], st->time);
		else
			ok = add_tag_item(o, &r->page.items[i], st);
		if (!ok)
			return false;
	}
	return set != NULL;
}

static bool add_head(cJSON *root, const struct sim_reply *r, const struct sim_json_style *st)
{
	char code[16];

	snprintf(code, sizeof(code), "%d", r->retcode);
	if (!(st->retcode_string ? cJSON_AddStringToObject(root, "RetCode", code) != NULL
				 : add_raw_int(root, "RetCode", r->retcode)))
		return false;
	if (!cJSON_AddStringToObject(root, "Action", r->action))
		return false;
	return r->retcode == 0 || cJSON_AddStringToObject(root, "Message", r->message);
}

int sim_json_reply(const struct sim_reply *r, const struct sim_json_style *st, struct buf *out)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	int err = -ENOMEM;

	if (!root || !add_head(root, r, st))
		goto out;
	if (r->retcode == 0 && r->kind != SIM_LIST_NONE && !add_list(root, r, st))
		goto out;
	text = cJSON_PrintUnformatted(root);
	if (text)
		err = buf_adds(out, text);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return err;
}

int sim_json_stats(const struct sim_stat_row *rows, size_t n, struct buf *out)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	int err = -ENOMEM;

	for (size_t i = 0; root && i < n; i++)
		if (!add_raw_int(root, rows[i].action, (long long)rows[i].count))
			goto out;
	text = root ? cJSON_PrintUnformatted(root) : NULL;
	if (text)
		err = buf_adds(out, text);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return err;
}

/* ---- the registry as a data file (/_sim/state) ---- */

/* Appends a new object to array a; NULL on -ENOMEM. */
static cJSON *new_member(cJSON *a)
{
	cJSON *o = cJSON_CreateObject();

	if (o && !cJSON_AddItemToArray(a, o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

static bool add_times(cJSON *o, const struct sim_item *it)
{
	return add_raw_int(o, "create_time", it->create_time) && add_raw_int(o, "update_time", it->update_time);
}

static bool state_tags(cJSON *img, const struct sim_page *tags)
{
	cJSON *a = cJSON_AddArrayToObject(img, "tags");

	for (size_t i = 0; a && i < tags->n; i++) {
		const struct sim_item *t = &tags->items[i];
		cJSON *o = new_member(a);

		if (!o || !cJSON_AddStringToObject(o, "name", t->name) ||
		    (t->digest && !cJSON_AddStringToObject(o, "digest", t->digest)) ||
		    !add_raw_int(o, "update_time", t->update_time))
			return false;
	}
	return a != NULL;
}

static bool state_images(cJSON *repo, const struct sim_dump_repo *dr)
{
	cJSON *a = cJSON_AddArrayToObject(repo, "images");

	for (size_t i = 0; a && i < dr->nimages; i++) {
		const struct sim_dump_image *di = &dr->images[i];
		cJSON *o = new_member(a);

		if (!o || !cJSON_AddStringToObject(o, "name", di->info.name) || !add_times(o, &di->info) ||
		    !add_raw_int(o, "pull_count", di->info.pull_count) || !state_tags(o, &di->tags))
			return false;
	}
	return a != NULL;
}

static bool state_repos(cJSON *root, const struct sim_dump *d)
{
	cJSON *a = cJSON_AddArrayToObject(root, "repos");

	for (size_t i = 0; a && i < d->nrepos; i++) {
		const struct sim_dump_repo *dr = &d->repos[i];
		const struct sim_item *it = &dr->info;
		cJSON *o = new_member(a);

		if (!o || !cJSON_AddStringToObject(o, "name", it->name) ||
		    !cJSON_AddStringToObject(o, "type", dr->is_public ? "public" : "private") ||
		    !cJSON_AddStringToObject(o, "description", it->description ? it->description : "") ||
		    !cJSON_AddBoolToObject(o, "is_shared", it->is_shared) ||
		    !cJSON_AddBoolToObject(o, "is_outside", it->is_outside) || !add_times(o, it) ||
		    !state_images(o, dr))
			return false;
	}
	return a != NULL;
}

int sim_json_state(const struct sim_dump *d, struct buf *out)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	int err = -ENOMEM;

	if (!root || !add_raw_int(root, "_changes", (long long)d->changes) || !state_repos(root, d))
		goto out;
	text = cJSON_PrintUnformatted(root);
	if (text)
		err = buf_adds(out, text);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return err;
}

/* ---- request bodies ---- */

/* A JSON number as a client would have signed it: integers in plain
 * decimal, others in the shortest form that reads back the same. */
static bool number_text(double d, char *out, size_t n)
{
	if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(long long)d) {
		snprintf(out, n, "%lld", (long long)d);
		return true;
	}
	snprintf(out, n, "%.15g", d);
	if (strtod(out, NULL) != d)
		snprintf(out, n, "%.17g", d);
	return true;
}

int sim_json_body_params(const char *body, size_t n, struct params *p)
{
	cJSON *root = cJSON_ParseWithLength(body, n), *it;
	char num[64];
	int err = 0;

	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, root)
	{
		if (cJSON_IsString(it))
			err = params_add(p, it->string, it->valuestring);
		else if (cJSON_IsNumber(it) && number_text(it->valuedouble, num, sizeof(num)))
			err = params_add(p, it->string, num);
		else if (cJSON_IsBool(it))
			err = params_add(p, it->string, cJSON_IsTrue(it) ? "true" : "false");
		else if (!cJSON_IsNull(it))
			err = -EINVAL;
		if (err)
			break;
	}
	cJSON_Delete(root);
	return err;
}

/* ---- the data file ---- */

struct loader {
	struct sim_registry *reg;
	char *err;
	size_t errlen;
};

static int fail(struct loader *l, int code, const char *where, const char *what, const char *key)
{
	snprintf(l->err, l->errlen, "%s: %s%s", where, what, key ? key : "");
	return code;
}

/* Unknown keys are typos; keys starting with '_' are comments. */
static int check_keys(struct loader *l, const cJSON *o, const char *const *allowed, const char *where)
{
	const cJSON *it;

	if (!cJSON_IsObject(o))
		return fail(l, -EINVAL, where, "not a JSON object", NULL);
	cJSON_ArrayForEach(it, o)
	{
		bool known = it->string[0] == '_';

		for (size_t i = 0; allowed[i] && !known; i++)
			known = strcmp(allowed[i], it->string) == 0;
		if (!known)
			return fail(l, -EINVAL, where, "unknown key ", it->string);
	}
	return 0;
}

/* The getters: 0 when absent (out untouched), 1 when read, -EINVAL. */
static int get_str(struct loader *l, const cJSON *o, const char *key, const char *where, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return fail(l, -EINVAL, where, "must be a string: ", key);
	*out = v->valuestring;
	return 1;
}

/* The required "name": 0 or -EINVAL. */
static int get_name(struct loader *l, const cJSON *o, const char *where, const char **out)
{
	int got = get_str(l, o, "name", where, out);

	if (got == 0)
		return fail(l, -EINVAL, where, "missing ", "name");
	return got < 0 ? got : 0;
}

static int get_bool(struct loader *l, const cJSON *o, const char *key, const char *where, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return fail(l, -EINVAL, where, "must be true or false: ", key);
	*out = cJSON_IsTrue(v);
	return 1;
}

static int get_uint(struct loader *l, const cJSON *o, const char *key, const char *where, double max,
		    unsigned long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
	    v->valuedouble != (double)(unsigned long long)v->valuedouble)
		return fail(l, -EINVAL, where, "must be a whole number in range: ", key);
	*out = (unsigned long long)v->valuedouble;
	return 1;
}

/* Unix seconds as a number, or any string timefmt_parse takes. */
static int get_time(struct loader *l, const cJSON *o, const char *key, const char *where, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	unsigned long long u;
	int got;

	if (v && cJSON_IsString(v)) {
		if (timefmt_parse(v->valuestring, SIM_TZ_OFFSET, out))
			return fail(l, -EINVAL, where, "not a time: ", key);
		return 1;
	}
	got = get_uint(l, o, key, where, 253402300799.0, &u);
	if (got == 1)
		*out = (int64_t)u;
	return got;
}

static int load_generate(struct loader *l, const cJSON *g, const char *repo, const char *image, const char *where)
{
	static const char *const keys[] = {"tags", "prefix", "width", "start", "step", "seed", NULL};
	struct sim_gen_tags gt = {.prefix = "build-", .step = 3600, .seed = 1};
	unsigned long long count = 0, width = 0, step = 3600, seed = 1;
	int err = check_keys(l, g, keys, where);

	if (!err && get_uint(l, g, "tags", where, 1e7, &count) == 0)
		err = fail(l, -EINVAL, where, "missing ", "tags");
	if (!err && (get_str(l, g, "prefix", where, &gt.prefix) < 0 || get_uint(l, g, "width", where, 64, &width) < 0 ||
		     get_time(l, g, "start", where, &gt.start) < 0 || get_uint(l, g, "step", where, 1e9, &step) < 0 ||
		     get_uint(l, g, "seed", where, 1.8e19, &seed) < 0))
		err = -EINVAL;
	if (err)
		return err;
	gt.count = (unsigned long)count;
	gt.width = (unsigned)width;
	gt.step = (int64_t)step;
	gt.seed = seed;
	err = sim_registry_gen_tags(l->reg, repo, image, &gt);
	return err ? fail(l, err, where, "cannot generate tags", NULL) : 0;
}

static int load_tag(struct loader *l, const cJSON *t, const char *repo, const char *image, int64_t dflt,
		    const char *where)
{
	static const char *const keys[] = {"name", "digest", "update_time", NULL};
	struct sim_push p = {.repo = repo, .image = image, .time = dflt};
	int err = check_keys(l, t, keys, where);

	if (!err)
		err = get_name(l, t, where, &p.tag);
	if (!err &&
	    (get_str(l, t, "digest", where, &p.digest) < 0 || get_time(l, t, "update_time", where, &p.time) < 0))
		err = -EINVAL;
	if (!err)
		err = sim_registry_push(l->reg, &p);
	return err;
}

static int load_image(struct loader *l, const cJSON *ji, const char *repo, const char *where)
{
	static const char *const keys[] = {"name", "create_time", "update_time", "pull_count",
					   "tags", "generate",	  NULL};
	struct sim_image_info info = {0};
	unsigned long long pulls = 0;
	const cJSON *tags, *t, *gen;
	char at[96];
	int err = check_keys(l, ji, keys, where), i = 0;

	if (!err)
		err = get_name(l, ji, where, &info.name);
	if (!err && (get_time(l, ji, "create_time", where, &info.create_time) < 0 ||
		     get_time(l, ji, "update_time", where, &info.update_time) < 0 ||
		     get_uint(l, ji, "pull_count", where, 1e15, &pulls) < 0))
		err = -EINVAL;
	if (err)
		return err;
	info.pull_count = (long long)pulls;
	err = sim_registry_add_image(l->reg, repo, &info);
	if (err)
		return fail(l, err, where, err == -EEXIST ? "duplicate image " : "cannot add image ", info.name);
	tags = cJSON_GetObjectItemCaseSensitive(ji, "tags");
	if (tags && !cJSON_IsArray(tags))
		return fail(l, -EINVAL, where, "must be an array: ", "tags");
	cJSON_ArrayForEach(t, tags)
	{
		snprintf(at, sizeof(at), "%s.tags[%d]", where, i++);
		err = load_tag(l, t, repo, info.name, info.update_time ? info.update_time : SIM_BASE_TIME, at);
		if (err)
			return err;
	}
	gen = cJSON_GetObjectItemCaseSensitive(ji, "generate");
	snprintf(at, sizeof(at), "%s.generate", where);
	return gen ? load_generate(l, gen, repo, info.name, at) : 0;
}

static int load_repo(struct loader *l, const cJSON *jr, const char *where)
{
	static const char *const keys[] = {"name",	  "type",	 "description", "is_shared", "is_outside",
					   "create_time", "update_time", "images",	NULL};
	struct sim_repo_info info = {0};
	const char *type = "private";
	const cJSON *images, *ji;
	char at[64];
	int err = check_keys(l, jr, keys, where), i = 0;

	if (!err)
		err = get_name(l, jr, where, &info.name);
	if (!err &&
	    (get_str(l, jr, "type", where, &type) < 0 || get_str(l, jr, "description", where, &info.description) < 0 ||
	     get_bool(l, jr, "is_shared", where, &info.is_shared) < 0 ||
	     get_bool(l, jr, "is_outside", where, &info.is_outside) < 0 ||
	     get_time(l, jr, "create_time", where, &info.create_time) < 0 ||
	     get_time(l, jr, "update_time", where, &info.update_time) < 0))
		err = -EINVAL;
	if (!err && strcmp(type, "private") != 0 && strcmp(type, "public") != 0)
		err = fail(l, -EINVAL, where, "type must be private or public", NULL);
	if (err)
		return err;
	info.is_public = strcmp(type, "public") == 0;
	err = sim_registry_add_repo(l->reg, &info);
	if (err)
		return fail(l, err, where, err == -EEXIST ? "duplicate repo " : "cannot add repo ", info.name);
	images = cJSON_GetObjectItemCaseSensitive(jr, "images");
	if (images && !cJSON_IsArray(images))
		return fail(l, -EINVAL, where, "must be an array: ", "images");
	cJSON_ArrayForEach(ji, images)
	{
		snprintf(at, sizeof(at), "%s.images[%d]", where, i++);
		err = load_image(l, ji, info.name, at);
		if (err)
			return err;
	}
	return 0;
}

int sim_json_load(struct sim_registry *r, const char *text, size_t n, char *err, size_t errlen)
{
	static const char *const keys[] = {"repos", NULL};
	struct loader l = {.reg = r, .err = err, .errlen = errlen};
	cJSON *root = cJSON_ParseWithLength(text, n);
	const cJSON *repos, *jr;
	char at[32];
	int rc, i = 0;

	if (!root) {
		const char *bad = cJSON_GetErrorPtr();

		snprintf(err, errlen, "not valid JSON near byte %td", bad && bad >= text ? bad - text : (ptrdiff_t)-1);
		return -EINVAL;
	}
	rc = check_keys(&l, root, keys, "top level");
	repos = cJSON_GetObjectItemCaseSensitive(root, "repos");
	if (!rc && !cJSON_IsArray(repos))
		rc = fail(&l, -EINVAL, "top level", "needs a \"repos\" array", NULL);
	if (!rc) {
		cJSON_ArrayForEach(jr, repos)
		{
			snprintf(at, sizeof(at), "repos[%d]", i++);
			rc = load_repo(&l, jr, at);
			if (rc)
				break;
		}
	}
	cJSON_Delete(root);
	if (!rc)
		sim_registry_settle(r);
	return rc;
}

int sim_json_load_file(struct sim_registry *r, const char *path, char *err, size_t errlen)
{
	struct buf text;
	char chunk[65536];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	buf_init(&text, DATA_FILE_MAX);
	while (!rc && (got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		rc = got < 0 ? -errno : buf_add(&text, chunk, (size_t)got);
	}
	close(fd);
	if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	else
		rc = sim_json_load(r, text.data ? text.data : "", text.len, err, errlen);
	buf_release(&text);
	return rc;
}
