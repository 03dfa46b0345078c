/* tagfile.c — the contents of a tag file.
 *
 * The kernel asks for st_size before it reads, and a read past a wrong
 * st_size is cut short, so the size and the bytes must come from one
 * definition. Both are built from the same list of pieces (labels, the
 * digest, the time text); a read copies its window straight out of those
 * pieces, so serving read() at any offset allocates nothing.
 */
#include "tagfile.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "timefmt.h"

#define PIECES_MAX 6

struct pieces {
	const char *p[PIECES_MAX];
	size_t len[PIECES_MAX];
	size_t n;
	char time[TIMEFMT_RFC3339_LEN + 1]; /* storage for a formatted time */
};

static void piece(struct pieces *ps, const char *s)
{
	ps->p[ps->n] = s;
	ps->len[ps->n] = strlen(s);
	ps->n++;
}

/* The text after "updated: ": RFC 3339, else the API's text as given,
 * else "unknown". */
static const char *updated_text(const struct snap_entry *e, struct pieces *ps)
{
	if (e->mtime != SNAP_NO_TIME && timefmt_rfc3339(e->mtime, ps->time, sizeof(ps->time)) == 0)
		return ps->time;
	return e->time_raw ? e->time_raw : "unknown";
}

static void pieces_of(const struct snap_entry *e, struct pieces *ps)
{
	ps->n = 0;
	if (e->digest) {
		piece(ps, "digest: ");
		piece(ps, e->digest);
		piece(ps, "\n");
	}
	piece(ps, "updated: ");
	piece(ps, updated_text(e, ps));
	piece(ps, "\n");
}

size_t tagfile_size(const struct snap_entry *e)
{
	struct pieces ps;
	size_t total = 0;

	pieces_of(e, &ps);
	for (size_t i = 0; i < ps.n; i++)
		total += ps.len[i];
	return total;
}

ssize_t tagfile_read(const struct snap_entry *e, char *dst, size_t size, off_t off)
{
	struct pieces ps;
	size_t skip, got = 0;

	if (off < 0)
		return -EINVAL;
	if (size > SSIZE_MAX)
		size = SSIZE_MAX;
	pieces_of(e, &ps);
	skip = (uintmax_t)off > SIZE_MAX ? SIZE_MAX : (size_t)off;
	for (size_t i = 0; i < ps.n && got < size; i++) {
		size_t take;

		if (skip >= ps.len[i]) {
			skip -= ps.len[i];
			continue;
		}
		take = ps.len[i] - skip;
		if (take > size - got)
			take = size - got;
		memcpy(dst + got, ps.p[i] + skip, take);
		got += take;
		skip = 0;
	}
	return (ssize_t)got;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool tagfile_same(const struct snap_entry *a, const struct snap_entry *b)
{
	char ca[256], cb[256];
	size_t size;

	/* The same fields make the same bytes (the common case, cheaply). */
	if (a->mtime == b->mtime && same_str(a->digest, b->digest) && same_str(a->time_raw, b->time_raw))
		return true;
	size = tagfile_size(a);
	if (size != tagfile_size(b))
		return false;
	/* In chunks: what a read would give is what counts. */
	for (size_t off = 0; off < size; off += sizeof(ca)) {
		ssize_t na = tagfile_read(a, ca, sizeof(ca), (off_t)off),
			nb = tagfile_read(b, cb, sizeof(cb), (off_t)off);

		if (na != nb || na <= 0 || memcmp(ca, cb, (size_t)na) != 0)
			return false;
	}
	return true;
}
