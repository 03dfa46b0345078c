/* listing.c — from the API's entries to a snapshot (listing.h). Every
 * string here came from a server that may be hostile: names are checked
 * before they become file names (names.h), and text that goes into a tag
 * file is shown escaped when it holds what a terminal or a line reader
 * would act on (text.h). */
#include "listing.h"

#include <errno.h>
#include <string.h>

#include "names.h"
#include "text.h"
#include "timefmt.h"

#define TEXT_MAX 4097 /* a digest or time as decode.c bounds it, and a NUL */

/* A tag file's text comes from the server: a control byte (a newline
 * above all) could forge a line, and a C1 or bidirectional control acts
 * on the terminal that shows it, so such text is shown only escaped, as
 * the log shows it (\xNN). Returns s, or out holding the escaped copy
 * (cut to n - 1 bytes, between characters). */
static const char *escaped(const char *s, char *out, size_t n)
{
	if (!s || text_printable(s, strlen(s)))
		return s;
	return log_escape(s, strlen(s), out, n);
}

struct counts {
	size_t skipped, badtime;
};

/* Adds one API entry to b, converting its time. Refused names are skipped. */
static int add_entry(const struct listing_src *src, struct snap_builder *b, const struct uhub_entry *in,
		     struct counts *c)
{
	char digest[TEXT_MAX], raw[TEXT_MAX];
	struct snap_entry e = {
	    .name = in->name, .digest = escaped(in->digest, digest, sizeof(digest)), .mtime = SNAP_NO_TIME};

	if (!names_valid_entry(src->kind == UHUB_IMAGES, in->name, strlen(in->name))) {
		char shown[96];

		if (!c->skipped++) {
			log_printable(in->name, shown, sizeof(shown));
			log_msg(src->log, LOG_WARNING, "skipping a name that cannot be a file name: \"%s\"", shown);
		}
		return 0;
	}
	if (in->time && timefmt_parse(in->time, src->api_tz, &e.mtime) != 0) {
		e.mtime = SNAP_NO_TIME;
		e.time_raw = escaped(in->time, raw, sizeof(raw));
		c->badtime++;
	}
	return snap_builder_add(b, &e);
}

int listing_build(const struct listing_src *src, const struct uhub_entry *v, size_t n, struct snap **out)
{
	struct snap_builder *b = snap_builder_new();
	struct counts c = {0};
	const char *repo = src->repo ? src->repo : "/", *sep = src->image ? "/" : "",
		   *image = src->image ? src->image : "";
	int err = b ? 0 : -ENOMEM;

	for (size_t i = 0; i < n && !err; i++)
		err = add_entry(src, b, &v[i], &c);
	if (err) {
		snap_builder_free(b);
		return err;
	}
	if (c.skipped > 1)
		log_msg(src->log, LOG_WARNING, "skipped %zu names that cannot be file names in %s%s%s", c.skipped, repo,
			sep, image);
	if (c.badtime)
		log_msg(src->log, LOG_WARNING, "%zu times could not be parsed in %s%s%s; shown as given", c.badtime,
			repo, sep, image);
	*out = snap_builder_finish(b);
	return *out ? 0 : -ENOMEM;
}
