/* sim_tree.c — the registry as web-server index pages, so that filesystems
 * made for plain HTTP directory trees (httpdirfs, rclone's http backend)
 * can be measured on the very data imgtagfs mounts through the API. The
 * pages are what those clients parse and no more: relative <a href> links,
 * a trailing slash for directories, and for files the Content-Length and
 * Last-Modified they take from a HEAD. File contents come from the same
 * formatter imgtagfs uses (timefmt), so a byte compare of the two mounts
 * is meaningful. Listings copy their rows out of the registry (which locks
 * for itself), so nothing here holds a lock while formatting.
 */
#include "sim_tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_registry.h"
#include "timefmt.h"

#define PREFIX "/tree/"
#define PREFIX_LEN 6
#define PAGE_MAX (256u << 20) /* a whole-registry dump fits */
#define CT_HTML "text/html; charset=utf-8"
#define CT_TEXT "text/plain; charset=utf-8"

/* A request path split up: repo, then what follows it. */
struct where {
	char *copy;	   /* owned; the pieces point into it */
	char *repo;	   /* NULL: the root */
	char *rest;	   /* after "REPO/", without a final '/': "", "a/b", "IMAGE/TAG" */
	bool is_dir;	   /* the path ended with '/' */
	const char *range; /* the Range header, or NULL */
};

/* A child directory of an index page. */
struct child {
	char *name;
	int64_t time;
};

bool sim_tree_path(const char *url)
{
	/* "/tree" too: httpdirfs drops the slash of the URL it mounts. */
	return strncmp(url, PREFIX, PREFIX_LEN) == 0 || strcmp(url, "/tree") == 0;
}

void sim_tree_reply_release(struct sim_tree_reply *r)
{
	if (r)
		buf_release(&r->body);
}

/* ---- formatting ---- */

/* An HTTP date (IMF-fixdate), independent of the locale. */
static void http_date(int64_t t, char *out, size_t n)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		out[0] = '\0';
		return;
	}
	snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The tag file, as imgtagfs renders it. */
static int tag_content(const struct sim_item *it, struct buf *out)
{
	char when[TIMEFMT_RFC3339_LEN + 1];
	int err = 0;

	if (timefmt_rfc3339(it->update_time, when, sizeof(when)))
		memcpy(when, "unknown", sizeof("unknown"));
	if (it->digest)
		err = buf_printf(out, "digest: %s\n", it->digest);
	return err ? err : buf_printf(out, "updated: %s\n", when);
}

static size_t tag_size(const struct sim_item *it)
{
	struct buf b;
	size_t n;

	buf_init(&b, 4096);
	n = tag_content(it, &b) ? 0 : b.len;
	buf_release(&b);
	return n;
}

/* Percent-encodes all but RFC 3986's unreserved characters. */
static int add_href(struct buf *b, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	int err = 0;

	for (const unsigned char *s = (const unsigned char *)name; *s && !err; s++) {
		bool plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			     *s == '-' || *s == '.' || *s == '_' || *s == '~';
		char esc[3] = {'%', hex[*s >> 4], hex[*s & 15]};

		err = plain ? buf_add(b, s, 1) : buf_add(b, esc, 3);
	}
	return err;
}

static int add_html(struct buf *b, const char *text)
{
	int err = 0;

	for (const char *s = text; *s && !err; s++) {
		switch (*s) {
		case '&':
			err = buf_adds(b, "&amp;");
			break;
		case '<':
			err = buf_adds(b, "&lt;");
			break;
		case '>':
			err = buf_adds(b, "&gt;");
			break;
		case '"':
			err = buf_adds(b, "&quot;");
			break;
		default:
			err = buf_add(b, s, 1);
		}
	}
	return err;
}

/* One index line: <a href="NAME[/]">NAME[/]</a>  YYYY-MM-DD HH:MM  SIZE */
static int index_line(struct buf *b, const char *name, bool dir, int64_t t, size_t size)
{
	char when[32] = "-";
	time_t tt = (time_t)t;
	struct tm tm;
	int err;

	if (gmtime_r(&tt, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	err = buf_adds(b, "<a href=\"");
	err = err ? err : add_href(b, name);
	err = err ? err : buf_adds(b, dir ? "/\">" : "\">");
	err = err ? err : add_html(b, name);
	err = err ? err : buf_adds(b, dir ? "/</a>" : "</a>");
	if (!err && dir)
		err = buf_printf(b, "  %s  -\n", when);
	else if (!err)
		err = buf_printf(b, "  %s  %zu\n", when, size);
	return err;
}

static int index_head(struct buf *b, const char *url)
{
	int err =
	    buf_adds(b, "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html><head><title>Index of ");

	err = err ? err : add_html(b, url);
	err = err ? err : buf_adds(b, "</title></head>\n<body><h1>Index of ");
	err = err ? err : add_html(b, url);
	return err ? err : buf_adds(b, "</h1>\n<pre>\n");
}

static int index_tail(struct buf *b)
{
	return buf_adds(b, "</pre>\n</body></html>\n");
}

static int reply_status(struct sim_tree_reply *r, unsigned status, const char *text)
{
	r->status = status;
	r->content_type = CT_TEXT;
	buf_reset(&r->body);
	return buf_adds(&r->body, text);
}

/* ---- the request path ---- */

/* Splits url (under PREFIX) into w. -EINVAL for an empty piece ("//"). */
static int where_parse(const char *url, struct where *w)
{
	const char *path = url[PREFIX_LEN - 1] ? url + PREFIX_LEN : "";
	size_t n = strlen(path);
	char *slash;

	memset(w, 0, sizeof(*w));
	w->is_dir = n == 0 || path[n - 1] == '/';
	w->copy = strdup(path);
	if (!w->copy)
		return -ENOMEM;
	if (w->is_dir && n)
		w->copy[n - 1] = '\0';
	if (strstr(w->copy, "//") || w->copy[0] == '/')
		return -EINVAL;
	if (!w->copy[0])
		return 0;
	w->repo = w->copy;
	slash = strchr(w->copy, '/');
	w->rest = slash ? slash + 1 : w->copy + strlen(w->copy);
	if (slash)
		*slash = '\0';
	return 0;
}

/* Counts one request; "" for image is none. */
static void count(const struct sim_parts *p, const char *repo, const char *image, const char *tag)
{
	/* A failed count only loses a statistic; the reply goes on. */
	(void)sim_stats_record(p->stats, SIM_TREE_ACTION, repo, image && image[0] ? image : NULL, tag);
}

/* ---- directory pages ---- */

static int child_cmp(const void *a, const void *b)
{
	return strcmp(((const struct child *)a)->name, ((const struct child *)b)->name);
}

static void children_free(struct child *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

/* The directories directly under prefix ("" = the repository) among the
 * images of pg, sorted, each once. *is_image: an image is called prefix. */
static int children_of(const struct sim_page *pg, const char *prefix, struct child **out, size_t *nout, bool *is_image)
{
	size_t plen = strlen(prefix), n = 0;
	struct child *c = calloc(pg->n ? pg->n : 1, sizeof(*c));

	*is_image = false;
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < pg->n; i++) {
		const char *name = pg->items[i].name, *rest = name, *end;

		if (plen && strcmp(name, prefix) == 0)
			*is_image = true;
		if (plen && (strncmp(name, prefix, plen) != 0 || name[plen] != '/'))
			continue;
		rest = plen ? name + plen + 1 : name;
		end = strchr(rest, '/');
		c[n].name = strndup(rest, end ? (size_t)(end - rest) : strlen(rest));
		c[n].time = pg->items[i].update_time;
		if (!c[n++].name) {
			children_free(c, n);
			return -ENOMEM;
		}
	}
	qsort(c, n, sizeof(*c), child_cmp);
	*out = c;
	*nout = n;
	return 0;
}

/* Writes the sorted children, merging repeats (keeping the newest time). */
static int children_write(struct buf *b, const struct child *c, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		int64_t t = c[i].time;

		while (i + 1 < n && strcmp(c[i].name, c[i + 1].name) == 0) {
			i++;
			t = c[i].time > t ? c[i].time : t;
		}
		if (c[i].name[0])
			err = index_line(b, c[i].name, true, t, 0);
	}
	return err;
}

static int tags_write(struct sim_registry *reg, const char *repo, const char *image, struct buf *b)
{
	struct sim_page pg = {0};
	int err = sim_registry_list_tags(reg, repo, image, NULL, 0, SIZE_MAX, &pg);

	for (size_t i = 0; !err && i < pg.n; i++)
		err = index_line(b, pg.items[i].name, false, pg.items[i].update_time, tag_size(&pg.items[i]));
	sim_page_release(&pg);
	return err;
}

static int root_page(const struct sim_parts *p, const char *url, struct sim_tree_reply *r)
{
	struct sim_page pg = {0};
	int err = sim_registry_list_repos(p->reg, false, 0, SIZE_MAX, &pg);

	count(p, NULL, NULL, NULL);
	err = err ? err : index_head(&r->body, url);
	for (size_t i = 0; !err && i < pg.n; i++)
		err = index_line(&r->body, pg.items[i].name, true, pg.items[i].update_time, 0);
	err = err ? err : index_tail(&r->body);
	sim_page_release(&pg);
	return err;
}

/* A repository's page (prefix "") or a directory inside it: nested image
 * directories, then the tags when an image has that name. */
static int dir_page(const struct sim_parts *p, const char *url, const struct where *w, struct sim_tree_reply *r)
{
	struct sim_page pg = {0};
	struct child *c = NULL;
	size_t n = 0;
	bool is_image = false;
	int err = sim_registry_list_images(p->reg, w->repo, 0, SIZE_MAX, &pg);

	count(p, w->repo, w->rest, NULL);
	if (err == -ENOENT)
		return reply_status(r, 404, "no such repository\n");
	err = err ? err : children_of(&pg, w->rest, &c, &n, &is_image);
	if (!err && w->rest[0] && !n && !is_image) {
		err = reply_status(r, 404, "no such directory\n");
		goto out;
	}
	err = err ? err : index_head(&r->body, url);
	err = err ? err : children_write(&r->body, c, n);
	if (!err && is_image)
		err = tags_write(p->reg, w->repo, w->rest, &r->body);
	err = err ? err : index_tail(&r->body);
out:
	children_free(c, n);
	sim_page_release(&pg);
	return err;
}

/* ---- files ---- */

static void add_header(struct sim_tree_reply *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_header(struct sim_tree_reply *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (r->nheaders == SIM_TREE_HEADERS)
		return;
	r->header[r->nheaders].name = name;
	va_start(ap, fmt);
	vsnprintf(r->header[r->nheaders].value, sizeof(r->header[0].value), fmt, ap);
	va_end(ap);
	r->nheaders++;
}

/* One "bytes=A-B", "bytes=A-" or "bytes=-N" of a body of len bytes:
 * true with [*from, *to] inside it; false for anything else (then the
 * whole body is sent, which a client must accept). *unsat: past the end. */
static bool parse_range(const char *h, size_t len, size_t *from, size_t *to, bool *unsat)
{
	char *end;
	unsigned long long a = 0, b = len ? len - 1 : 0;
	bool suffix;

	*unsat = false;
	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return false;
	h += 6;
	suffix = *h == '-';
	if (!suffix) {
		a = strtoull(h, &end, 10);
		if (end == h || *end != '-')
			return false;
		h = end;
	}
	if (h[1]) {
		unsigned long long v = strtoull(h + 1, &end, 10);

		if (end == h + 1 || *end)
			return false;
		if (suffix)
			a = v < len ? len - v : 0;
		else if (v < b)
			b = v;
	}
	*unsat = a >= len || a > b;
	*from = (size_t)a;
	*to = (size_t)b;
	return true;
}

/* The tag file, or the range of it asked for. */
static int tag_reply(const struct sim_item *it, const char *range, struct sim_tree_reply *r)
{
	char date[40];
	size_t from, to, len;
	bool unsat;
	int err;

	r->content_type = CT_TEXT;
	http_date(it->update_time, date, sizeof(date));
	add_header(r, "Last-Modified", "%s", date);
	add_header(r, "Accept-Ranges", "bytes");
	err = tag_content(it, &r->body);
	len = r->body.len;
	if (err || !parse_range(range, len, &from, &to, &unsat))
		return err;
	if (unsat) {
		add_header(r, "Content-Range", "bytes */%zu", len);
		return reply_status(r, 416, "");
	}
	memmove(r->body.data, r->body.data + from, to - from + 1);
	r->body.len = to - from + 1;
	r->body.data[r->body.len] = '\0';
	r->status = 206;
	add_header(r, "Content-Range", "bytes %zu-%zu/%zu", from, to, len);
	return 0;
}

/* A path without a final '/': the tag file when IMAGE/TAG names one, else
 * a directory asked for without its slash (httpdirfs never adds one). */
static int file_or_dir(const struct sim_parts *p, const char *url, struct where *w, struct sim_tree_reply *r)
{
	char *slash = strrchr(w->rest, '/');
	struct sim_page pg = {0};
	int err;

	if (!slash)
		return dir_page(p, url, w, r);
	*slash = '\0';
	err = sim_registry_list_tags(p->reg, w->repo, w->rest, slash + 1, 0, 1, &pg);
	if (!err && pg.n == 1) {
		count(p, w->repo, w->rest, slash + 1);
		err = tag_reply(&pg.items[0], w->range, r);
		sim_page_release(&pg);
		return err;
	}
	sim_page_release(&pg);
	*slash = '/';
	if (err && err != -ENOENT && err != -ENXIO)
		return err;
	return dir_page(p, url, w, r);
}

/* ---- the dump ---- */

static int dump_image(struct sim_registry *reg, const char *repo, const char *image, struct buf *b)
{
	struct sim_page pg = {0};
	char when[TIMEFMT_RFC3339_LEN + 1];
	int err = sim_registry_list_tags(reg, repo, image, NULL, 0, SIZE_MAX, &pg);

	for (size_t i = 0; !err && i < pg.n; i++) {
		const struct sim_item *it = &pg.items[i];

		if (timefmt_rfc3339(it->update_time, when, sizeof(when)))
			memcpy(when, "unknown", sizeof("unknown"));
		err = buf_printf(b, "%s\t%s\t%s\t%lld\t%s\t%s\n", repo, image, it->name, (long long)it->update_time,
				 it->digest ? it->digest : "", when);
	}
	sim_page_release(&pg);
	return err;
}

static int dump(const struct sim_parts *p, struct sim_tree_reply *r)
{
	struct sim_page repos = {0};
	int err = sim_registry_list_repos(p->reg, false, 0, SIZE_MAX, &repos);

	r->content_type = CT_TEXT;
	for (size_t i = 0; !err && i < repos.n; i++) {
		struct sim_page imgs = {0};

		err = sim_registry_list_images(p->reg, repos.items[i].name, 0, SIZE_MAX, &imgs);
		for (size_t k = 0; !err && k < imgs.n; k++)
			err = dump_image(p->reg, repos.items[i].name, imgs.items[k].name, &r->body);
		sim_page_release(&imgs);
	}
	sim_page_release(&repos);
	return err;
}

/* ---- entry ---- */

static int route(const struct sim_parts *p, const char *url, const char *query, struct where *w,
		 struct sim_tree_reply *r)
{
	if (!w->repo && query && strcmp(query, "dump") == 0) {
		count(p, NULL, NULL, NULL);
		return dump(p, r);
	}
	if (!w->repo)
		return root_page(p, url, r);
	if (w->is_dir)
		return dir_page(p, url, w, r);
	return file_or_dir(p, url, w, r);
}

int sim_tree_answer(const struct sim_parts *p, const char *method, const char *url, const char *query,
		    const char *range, struct sim_tree_reply *out)
{
	struct where w;
	int err;

	memset(out, 0, sizeof(*out));
	buf_init(&out->body, PAGE_MAX);
	out->status = 200;
	out->content_type = CT_HTML;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_status(out, 405, "only GET and HEAD in /tree/\n");
	err = where_parse(url, &w);
	w.range = range;
	if (err == -EINVAL)
		err = reply_status(out, 404, "empty name in the path\n");
	else if (!err)
		err = route(p, url, query, &w, out);
	free(w.copy);
	return err;
}
