/* tagfile.h — what a tag file contains:
 *
 *	digest: sha256:3f1c...\n	(left out when the API gave no digest)
 *	updated: 2026-11-27T02:15:00Z\n	(RFC 3339 UTC; the raw text when the
 *					 time could not be parsed)
 *
 * st_size is exactly the rendered length, so read() works without
 * direct_io. Pure functions.
 */
#ifndef IMGTAGFS_TAGFILE_H
#define IMGTAGFS_TAGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "snap.h"

/* The length of the file's contents for e (its st_size). */
size_t tagfile_size(const struct snap_entry *e);
/* Copies at most size bytes from offset off of e's contents into dst.
 * Returns the bytes copied (0 at or past the end) or -errno. */
ssize_t tagfile_read(const struct snap_entry *e, char *dst, size_t size, off_t off);
/* True when a and b make the same bytes (their names aside). */
bool tagfile_same(const struct snap_entry *a, const struct snap_entry *b);

#endif
