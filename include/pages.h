/* pages.h — one list assembled from offset pages while the list may
 * change between pages.
 *
 * Offset paging of a list that moves loses items silently: a tag deleted
 * (or pushed) ahead of a page boundary between the requests of two pages
 * shifts every later item by one, and one item that was never touched is
 * in neither page. So pages overlap: each page after the first starts at
 * the position of an item already held (its "anchor") and must list that
 * same item there. Two pieces that disagree at a position they share
 * were fetched on either side of a change, and the older one (by when its
 * request was sent) is fetched again: together with up to `span - 1`
 * older pieces next to it, span doubling at each repair, so a change near
 * the front of a long list is repaired in a few rounds, not one piece a
 * round. A page that holds no item claims "the list ends here", which a
 * piece holding an item past it contradicts in the same way.
 *
 * The first pass plans pages at a stride of one page less one item (one
 * call in a hundred more than plain paging at the default page size);
 * a server that gives one or two items a page does not overlap (at two,
 * overlapping would double the calls), and its pages are joined by their
 * TotalCount agreeing instead, which proves nothing: such a list is
 * always unsure. Why not TotalCount alone:
 * a delete ahead of a boundary and a push behind it leave TotalCount as it
 * was and still lose an item. Nothing here depends on the order the
 * server sorts its list in, only on that order being the same for items
 * that did not change.
 *
 * The list is complete when the verified pieces reach an empty page's
 * claim, or the TotalCount of the piece that reached there. A list that
 * cannot be verified within the caller's call budget may still be taken
 * "unsure": every item seen, from every piece, of every instant; an item
 * shifted out of every page it was in is then missing, and the caller
 * must not take the absence of a name for an answer (see tree.c).
 *
 * Not thread-safe: the caller (uhub.c) serialises calls with its lock.
 */
#ifndef IMGTAGFS_PAGES_H
#define IMGTAGFS_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "uhub.h"

/* One page to ask for: Offset, and whether the item at offset is one
 * already held (the page must list it first). */
struct pages_slot {
	long long offset;
	bool anchored;
};

struct pages;

/* Starts a list from its first page (Offset 0), whose item count is the
 * page size the server applies and whose TotalCount plans the rest; max
 * caps the items (and any TotalCount), max_bytes the memory the items of
 * every page received may hold. Takes r's items. NULL with *err set:
 * -ENOMEM, or -EFBIG when the first page alone is over a cap (the reason
 * in why). */
struct pages *pages_new(struct decode_reply *r, long long max, size_t max_bytes, int *err, char *why, size_t whylen);
void pages_free(struct pages *p);

/* The page size the server applied (the first page's count, at least 1). */
long long pages_page(const struct pages *p);
/* The pages the first TotalCount makes at the first page's size (the
 * first pass needs one in a hundred more at 100 a page): the basis of
 * the caller's call budget, 2 x this + 10. */
long long pages_planned(const struct pages *p);

/* The next page of the first pass: true and *s, or false when the plan
 * is done (what the pages received say about the list's end included). */
bool pages_plan(struct pages *p, struct pages_slot *s);

/* Pages of the first pass not yet taken (a hint, for how many threads). */
long long pages_plan_left(const struct pages *p);

/* A stamp for a request about to be sent (order of sending). */
uint64_t pages_sent(struct pages *p);
/* Adds the page s answered with r (taking r's items), sent at stamp sent.
 * 0, or -EFBIG (over max items or max_bytes; the reason in why). */
int pages_add(struct pages *p, const struct pages_slot *s, uint64_t sent, struct decode_reply *r, char *why,
	      size_t whylen);

/* Checks what was received: 1 when the list is complete and every join
 * verified; 0 and up to max pages to fetch next in out (*n, at least one
 * when max is); -ENOMEM. Stale pieces found on the way are dropped (kept
 * for pages_take's lenient mode). Ends the first pass. */
int pages_check(struct pages *p, struct pages_slot *out, size_t max, size_t *n);

/* The list: sorted by name, one entry a name (its newest copy: the
 * latest UpdateTime, on a tie the page received last). Strict: what
 * pages_check verified. Lenient: every item received, when the pages
 * received cover the whole list at all (then *unsure is true). 0,
 * -EIO (lenient, and the list is not covered), -ENOMEM. */
int pages_take(struct pages *p, bool lenient, struct uhub_list *out);

#endif
