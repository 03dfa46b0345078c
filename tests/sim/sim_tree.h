/* sim_tree.h — uhub-sim's registry as a plain HTTP directory tree, for the
 * benchmark's peers (httpdirfs, rclone's http backend), which browse a
 * web server's index pages rather than an API.
 *
 *   GET  /tree/                 the private repositories, as an index page
 *   GET  /tree/REPO/            its images; an image "a/b" is a directory
 *                               a/ holding b/
 *   GET  /tree/REPO/IMAGE/      the image's tags as files (and the nested
 *                               images below it as directories)
 *   GET  /tree/REPO/IMAGE/TAG   the tag file, exactly what imgtagfs shows:
 *   HEAD                        "digest: D\nupdated: RFC3339\n" (no digest
 *                               line when the tag has none), with
 *                               Content-Length, Last-Modified and ranges
 * A directory's path without its final '/' gives its page as well (no
 * redirect): httpdirfs asks for directories that way.
 *   GET  /tree/?dump            every tag of the tree, one line each:
 *                               REPO TAB IMAGE TAB TAG TAB UNIXTIME TAB
 *                               DIGEST TAB UPDATED (to build a local copy)
 *
 * Index pages are Apache's minimal form, one <a href="name/">name/</a> per
 * line, hrefs percent-encoded and relative. Every tree request is counted
 * in sim_stats as action "tree" with its repo, image and tag, so
 * /_sim/count?action=tree tells how many requests a peer made; the caller
 * (sim_http.c) applies the simulator's latency. No MHD here: this module
 * only builds the reply.
 */
#ifndef UHUB_SIM_TREE_H
#define UHUB_SIM_TREE_H

#include <stdbool.h>

#include "buf.h"
#include "sim_control.h"

#define SIM_TREE_ACTION "tree"

#define SIM_TREE_HEADERS 3

struct sim_tree_reply {
	unsigned status;
	const char *content_type; /* static */
	struct buf body;
	struct {
		const char *name; /* static */
		char value[64];
	} header[SIM_TREE_HEADERS]; /* more headers to send: Last-Modified, ... */
	size_t nheaders;
};

/* True when url (the decoded path, no query) belongs to the tree view:
 * "/tree" (the root, as httpdirfs asks for it) or anything under "/tree/". */
bool sim_tree_path(const char *url);

/* Answers method ("GET" or "HEAD"; anything else gets 405) on url with
 * query (the raw text after '?', or NULL) and the Range header (or NULL;
 * one "bytes=" range is honoured on a tag file: 206 or 416, as httpdirfs
 * insists on). Fills out (sim_tree_reply_release it, even on error) and
 * counts the request. 0 or -ENOMEM. Thread-safe. */
int sim_tree_answer(const struct sim_parts *p, const char *method, const char *url, const char *query,
		    const char *range, struct sim_tree_reply *out);
void sim_tree_reply_release(struct sim_tree_reply *r);

#endif
