/* listing.h — a listing as the API gave it (uhub entries) made into a
 * snapshot: names that cannot be file names skipped (one warning for the
 * first, one count), times parsed in the API's zone (unparseable ones
 * kept as given and counted), a digest or a time holding a control or a
 * byte that is not UTF-8 shown escaped (\xNN, as log_escape writes it) so
 * that no server text can forge a line of a tag file or act on a terminal.
 * Thread-safe (no state).
 */
#ifndef IMGTAGFS_LISTING_H
#define IMGTAGFS_LISTING_H

#include <stddef.h>

#include "log.h"
#include "snap.h"
#include "uhub.h"

struct listing_src {
	enum uhub_kind kind; /* which names are valid (images may nest) */
	const char *repo;    /* for log lines; NULL for the repositories */
	const char *image;
	long api_tz; /* seconds east of UTC of zone-less times */
	struct log *log;
};

/* A snapshot of v[0..n) (one reference in *out). 0 or -ENOMEM. */
int listing_build(const struct listing_src *src, const struct uhub_entry *v, size_t n, struct snap **out);

#endif
