/* qbudget.h — what the names a listing lacks may cost.
 *
 * A name can be looked up without its listing: a tag of an image whose
 * listing is not cached is asked for alone (GetImageTag with TagName),
 * and a name that an unsure listing (pages.h: it moved while it was
 * paged) lacks is asked for before anyone is told it does not exist. Each
 * such query is a signed call on the owner's account, and names are free
 * to make up (any user of an allow_other mount can stat a thousand), so a
 * listing's missing names may cost at most QBUDGET_MISSES queries that
 * found nothing within one window (the ttl); past that the listing itself
 * is fetched, once in the window, and its answer stands.
 *
 * Listings are tracked in a small fixed table by a hash of their cache
 * key: two listings sharing a slot share a budget (they only get to the
 * listing sooner), and nothing here grows with the names asked for.
 * Thread-safe: one mutex, a leaf.
 */
#ifndef IMGTAGFS_QBUDGET_H
#define IMGTAGFS_QBUDGET_H

#include <stdint.h>

#define QBUDGET_MISSES 4

enum qbudget_say {
	QBUDGET_QUERY, /* ask for the name alone */
	QBUDGET_LIST,  /* fetch the listing (the caller then calls qbudget_listed) */
	QBUDGET_NONE,  /* the listing was fetched in this window: its answer stands */
};

/* window_ms: how long misses are counted (the ttl; at least 1 ms). NULL
 * on -ENOMEM. qbudget_free(NULL) is a no-op. */
struct qbudget *qbudget_new(int64_t window_ms);
void qbudget_free(struct qbudget *q);

/* What a lookup of a name that listing key lacks may do now (now on the
 * caller's monotonic clock, in ms). */
enum qbudget_say qbudget_ask(struct qbudget *q, const char *key, int64_t now);
/* A query for a name of listing key found nothing. */
void qbudget_missed(struct qbudget *q, const char *key, int64_t now);
/* Listing key was fetched because of its misses. */
void qbudget_listed(struct qbudget *q, const char *key, int64_t now);

#endif
