/* pages.c — a list assembled from offset pages that overlap, checked for
 * shifts and repaired (see pages.h for the contract and the why).
 *
 * Each page received is a piece: the positions [off, off + got) of the
 * server's list at the instant it answered, with the names at those
 * positions (a position whose item the decoder refused has no name and
 * is not compared). A check walks the live pieces by offset and builds a
 * chain covering [0, covered) in which every join was seen to agree; a
 * disagreement drops the older of the two pieces (and, span by span, the
 * older pieces next to it), and the gaps left are fetched again.
 */
#include "pages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define SPAN_MAX 64

struct piece {
	long long off;		   /* position of the reply's first element */
	long long got;		   /* elements in the reply, refused ones too */
	long long total;	   /* its TotalCount, -1 when absent */
	uint64_t sent;		   /* when its request was sent (pages_sent) */
	uint64_t seq;		   /* arrival order, for ties between copies */
	bool anchored;		   /* asked to start at an item already held */
	bool dead;		   /* found stale: only a lenient take uses it */
	struct decode_item *items; /* kept items, by pos */
	size_t n;
};

/* A run of the chain: positions [from, to) are piece's. */
struct link {
	size_t piece;
	long long from, to;
};

struct pages {
	long long page;	  /* items a page holds: the first page's count */
	long long stride; /* between planned pages: page - 1 with overlap */
	bool overlap;	  /* pages of two or more items can overlap by one */
	long long next;	  /* the next planned page's offset */
	long long end;	  /* what the pages say of the list's end, for planning */
	long long first_end;
	long long max;
	bool cut;	 /* an empty page was received */
	bool planning;	 /* the first pass is on */
	bool unverified; /* the last check joined pieces on nothing */
	unsigned span;	 /* pieces a repair drops */
	size_t bytes, max_bytes, live_items;
	uint64_t stamp, seq;
	struct piece *v;
	size_t n, alloc;
	struct link *chain;
	size_t nchain, achain;
	long long covered; /* the chain's end */
};

/* ---- pieces -------------------------------------------------------------- */

static size_t item_bytes(const struct decode_item *it)
{
	return sizeof(*it) + strlen(it->name) + 1 + (it->time ? strlen(it->time) + 1 : 0) +
	       (it->digest ? strlen(it->digest) + 1 : 0);
}

static void item_free(struct decode_item *it)
{
	free(it->name);
	free(it->time);
	free(it->digest);
	it->name = it->time = it->digest = NULL;
}

/* Where the list ends by a TotalCount: never past max + 1 (one past the
 * cap is how a listing learns it is too big); absent says nothing. */
static long long total_end(const struct pages *p, long long total)
{
	return total < 0 || total > p->max ? p->max + 1 : total;
}

/* The name at position pos of piece q, or NULL (refused, or not in q). */
static const char *name_at(const struct piece *q, long long pos)
{
	size_t lo = 0, hi = q->n;
	long long want = pos - q->off;

	if (want < 0 || want >= q->got)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((long long)q->items[mid].pos < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < q->n && (long long)q->items[lo].pos == want ? q->items[lo].name : NULL;
}

static int add_piece(struct pages *p, const struct pages_slot *s, uint64_t sent, struct decode_reply *r)
{
	struct piece *q;

	if (p->n == p->alloc) {
		size_t want = p->alloc ? p->alloc * 2 : 16;
		struct piece *v = realloc(p->v, want * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->alloc = want;
	}
	q = &p->v[p->n++];
	*q = (struct piece){.off = s->offset,
			    .got = (long long)r->n + (long long)r->skipped,
			    .total = r->total,
			    .sent = sent,
			    .seq = ++p->seq,
			    .anchored = s->anchored,
			    .items = r->items,
			    .n = r->n};
	r->items = NULL; /* the strings are the piece's now */
	r->n = 0;
	p->live_items += q->n;
	return 0;
}

/* What a page says of the list's end, for planning the first pass: an
 * empty page ends it (whatever TotalCount said); a larger TotalCount
 * means the list grew while we paged, and its new tail gets pages. */
static void note_end(struct pages *p, const struct piece *q)
{
	if (q->got == 0) {
		if (q->off < p->end)
			p->end = q->off;
		p->cut = true;
	} else if (!p->cut && q->total >= 0 && total_end(p, q->total) > p->end) {
		p->end = total_end(p, q->total);
	}
}

int pages_add(struct pages *p, const struct pages_slot *s, uint64_t sent, struct decode_reply *r, char *why,
	      size_t whylen)
{
	size_t bytes = 0;
	int err;

	for (size_t i = 0; i < r->n; i++)
		bytes += item_bytes(&r->items[i]);
	if (bytes > p->max_bytes - p->bytes) {
		snprintf(why, whylen, "over the cap of %zu bytes a listing may hold (cache_size)", p->max_bytes);
		return -EFBIG;
	}
	if (p->live_items + r->n > (size_t)p->max + (size_t)p->page) {
		snprintf(why, whylen, "over the cap of %lld entries", p->max);
		return -EFBIG;
	}
	err = add_piece(p, s, sent, r);
	if (err)
		return err;
	p->bytes += bytes;
	note_end(p, &p->v[p->n - 1]);
	return 0;
}

struct pages *pages_new(struct decode_reply *r, long long max, size_t max_bytes, int *err, char *why, size_t whylen)
{
	struct pages *p = calloc(1, sizeof(*p));
	const struct pages_slot first = {.offset = 0};
	long long got = (long long)r->n + (long long)r->skipped;

	*err = p ? 0 : -ENOMEM;
	if (!p)
		return NULL;
	p->max = max;
	p->max_bytes = max_bytes;
	p->page = got > 0 ? got : 1;
	/* Two a page would overlap at a stride of one: twice the calls of
	 * plain paging, past the call budget of a list that grows while it
	 * is paged. Pages of two are joined like pages of one (unsure). */
	p->overlap = p->page >= 3;
	p->stride = p->overlap ? p->page - 1 : p->page;
	p->next = p->stride;
	p->end = got > 0 ? total_end(p, r->total) : 0;
	p->first_end = p->end;
	p->planning = true;
	p->span = 1;
	*err = pages_add(p, &first, pages_sent(p), r, why, whylen);
	if (*err) {
		pages_free(p);
		return NULL;
	}
	return p;
}

void pages_free(struct pages *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t j = 0; j < p->v[i].n; j++)
			item_free(&p->v[i].items[j]);
		free(p->v[i].items);
	}
	free(p->v);
	free(p->chain);
	free(p);
}

long long pages_page(const struct pages *p)
{
	return p->page;
}

long long pages_planned(const struct pages *p)
{
	return (p->first_end + p->page - 1) / p->page;
}

long long pages_plan_left(const struct pages *p)
{
	long long left = p->end - p->next - (p->overlap ? 1 : 0);

	return p->planning && left > 0 ? (left + p->stride - 1) / p->stride : 0;
}

uint64_t pages_sent(struct pages *p)
{
	return ++p->stamp;
}

bool pages_plan(struct pages *p, struct pages_slot *s)
{
	if (!p->planning || p->next + (p->overlap ? 1 : 0) >= p->end)
		return false;
	s->offset = p->next;
	s->anchored = p->overlap;
	p->next += p->stride;
	return true;
}

/* ---- the check ------------------------------------------------------------ */

static int push_link(struct pages *p, size_t piece, long long from, long long to)
{
	if (p->nchain == p->achain) {
		size_t want = p->achain ? p->achain * 2 : 16;
		struct link *v = realloc(p->chain, want * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->chain = v;
		p->achain = want;
	}
	p->chain[p->nchain++] = (struct link){.piece = piece, .from = from, .to = to};
	return 0;
}

/* The chain's name at pos, and the piece it is from. */
static const char *chain_name(const struct pages *p, long long pos, size_t *owner)
{
	size_t lo = 0, hi = p->nchain;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->chain[mid].to <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == p->nchain || p->chain[lo].from > pos)
		return NULL;
	*owner = p->chain[lo].piece;
	return name_at(&p->v[*owner], pos);
}

/* A piece in check order: by offset, the newest first at one offset. */
struct ord {
	long long off;
	uint64_t sent;
	size_t i;
};

static int by_offset(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->sent > y->sent ? -1 : x->sent < y->sent;
}

/* Pieces with items, live ones only unless all, in check order. */
static struct ord *ordered(const struct pages *p, bool all, size_t *n)
{
	struct ord *o = malloc((p->n ? p->n : 1) * sizeof(*o));

	*n = 0;
	if (!o)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].got > 0 && (all || !p->v[i].dead))
			o[(*n)++] = (struct ord){.off = p->v[i].off, .sent = p->v[i].sent, .i = i};
	qsort(o, *n, sizeof(*o), by_offset);
	return o;
}

/* Two pieces that disagree: one of them is stale. */
struct clash {
	size_t a, b;
};

enum walk_result { WALK_OK, WALK_CLASH, WALK_NOMEM };

/* Whether q names what the chain names at the positions they share below
 * upto. A position whose item one side refused (no name) and the other
 * did not is a disagreement too: two different items stand there.
 * *compared: some position was compared (both sides had a name). */
static bool agrees(const struct pages *p, const struct piece *q, long long upto, size_t *owner, bool *compared)
{
	for (long long pos = q->off; pos < upto; pos++) {
		size_t o = 0;
		const char *a = chain_name(p, pos, &o), *b = name_at(q, pos);

		if (!a && !b)
			continue;
		if (a && b)
			*compared = true;
		if (!a || !b || strcmp(a, b)) {
			*owner = o;
			return false;
		}
	}
	return true;
}

/* A join with no position compared (pages of one item, or names the
 * decoder refused on both sides): the two TotalCounts must agree, and
 * even then the list is unverified (a delete ahead of the join and a push
 * behind it leave TotalCount as it was), so it is taken unsure: a name it
 * lacks is looked for before anyone is told it does not exist. */
static bool joins(struct pages *p, size_t qi, struct clash *cl)
{
	size_t pi = p->chain[p->nchain - 1].piece;
	const struct piece *prev = &p->v[pi], *q = &p->v[qi];

	p->unverified = true;
	*cl = (struct clash){pi, qi};
	return prev->total < 0 || q->total < 0 || prev->total == q->total;
}

/* An empty page says the list ends at its offset: any piece holding an
 * item past that contradicts it. */
static bool claims_hold(const struct pages *p, struct clash *cl)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].dead || p->v[i].got)
			continue;
		for (size_t j = 0; j < p->n; j++) {
			const struct piece *x = &p->v[j];

			if (!x->dead && x->got && x->off + x->got > p->v[i].off) {
				*cl = (struct clash){j, i};
				return false;
			}
		}
	}
	return true;
}

/* Builds the chain from offset 0 over the live pieces (every piece, and
 * nothing compared, when lenient). WALK_CLASH: *cl disagree. */
static enum walk_result walk(struct pages *p, bool lenient, struct clash *cl)
{
	size_t n;
	struct ord *o = ordered(p, lenient, &n);
	enum walk_result res = WALK_OK;
	long long c = 0;

	if (!o)
		return WALK_NOMEM;
	p->nchain = 0;
	p->unverified = false;
	for (size_t k = 0; k < n && res == WALK_OK && o[k].off <= c; k++) {
		const struct piece *q = &p->v[o[k].i];
		long long hi = q->off + q->got;
		bool compared = false;
		size_t owner = 0;

		if (!lenient && !agrees(p, q, hi < c ? hi : c, &owner, &compared)) {
			*cl = (struct clash){owner, o[k].i};
			res = WALK_CLASH;
		} else if (hi <= c) {
			continue; /* within the chain, and agreeing with it */
		} else if (!lenient && c > 0 && !compared && !joins(p, o[k].i, cl)) {
			res = WALK_CLASH;
		} else if (push_link(p, o[k].i, c, hi)) {
			res = WALK_NOMEM;
		} else {
			c = hi;
		}
	}
	free(o);
	p->covered = c;
	if (res == WALK_OK && !lenient && !claims_hold(p, cl))
		res = WALK_CLASH;
	return res;
}

/* The chain reaches the list's end: an empty page there, or the
 * TotalCount of the piece that reached there. Lenient (every piece, of
 * any instant): some piece saw the list end within what the chain
 * covers, by an empty page or by reaching its own TotalCount. */
static bool complete(const struct pages *p, bool all)
{
	const struct piece *last;

	for (size_t i = 0; i < p->n; i++) {
		const struct piece *q = &p->v[i];
		long long end = q->off + q->got;

		if (!all && q->dead)
			continue;
		if (!q->got && (all ? q->off <= p->covered : q->off == p->covered))
			return true;
		if (all && q->got && end <= p->covered && q->total >= 0 && end >= total_end(p, q->total))
			return true;
	}
	if (!p->nchain)
		return false;
	last = &p->v[p->chain[p->nchain - 1].piece];
	return last->total >= 0 && p->covered >= total_end(p, last->total);
}

static void drop(struct pages *p, size_t i)
{
	if (!p->v[i].dead) {
		p->v[i].dead = true;
		p->live_items -= p->v[i].n;
	}
}

/* The older of two disagreeing pieces is stale, and so may be the
 * pieces next to it on its far side that are older than the younger one
 * too (the change was somewhere ahead of the join): up to span - 1 of
 * them go with it, span doubling at each repair. */
static void resolve(struct pages *p, const struct clash *cl)
{
	size_t old = p->v[cl->a].sent < p->v[cl->b].sent ? cl->a : cl->b;
	size_t young = old == cl->a ? cl->b : cl->a;
	bool down = p->v[old].off <= p->v[young].off;
	long long at = p->v[old].off;
	unsigned more = p->v[old].got ? p->span - 1 : 0;
	size_t n;
	struct ord *o;

	drop(p, old);
	if (p->span < SPAN_MAX)
		p->span *= 2;
	if (!more || !(o = ordered(p, false, &n)))
		return;
	for (size_t k = 0; k < n && more; k++) {
		/* Down: from the nearest below; up: from the nearest above. */
		const struct ord *e = &o[down ? n - 1 - k : k];

		if (down ? e->off >= at : e->off <= at)
			continue;
		if (e->sent >= p->v[young].sent)
			break;
		drop(p, e->i);
		more--;
	}
	free(o);
}

/* An anchored page at pos already brought nothing past its anchor. */
static bool stuck_at(const struct pages *p, long long pos)
{
	for (size_t i = 0; i < p->n; i++)
		if (!p->v[i].dead && p->v[i].anchored && p->v[i].off == pos && p->v[i].got <= 1)
			return true;
	return false;
}

/* Where the gap after the chain ends: the first live piece past it, or
 * the end by the chain's last TotalCount, but never past an empty page's
 * claim; -1 when unknown. The last position a fetch must reach. */
static long long gap_need(const struct pages *p)
{
	long long need = -1, claim = -1;

	for (size_t i = 0; i < p->n; i++) {
		const struct piece *q = &p->v[i];

		if (q->dead || q->off <= p->covered)
			continue;
		if (q->got && (need < 0 || q->off < need))
			need = q->off;
		if (!q->got && (claim < 0 || q->off < claim))
			claim = q->off;
	}
	if (need >= 0 && !p->overlap)
		need--;
	if (need < 0 && p->nchain && p->v[p->chain[p->nchain - 1].piece].total >= 0)
		need = total_end(p, p->v[p->chain[p->nchain - 1].piece].total) - 1;
	if (claim >= 0 && (need < 0 || need > claim - 1))
		need = claim - 1;
	return need;
}

/* The pages that fill the gap after the chain, overlapping the chain's
 * last item and what follows the gap. A server that gave only the
 * anchor there gives one item a page: ask past it, one page at a time. */
static void plan_gap(const struct pages *p, struct pages_slot *out, size_t max, size_t *n)
{
	long long c = p->covered, need = gap_need(p);
	bool stuck = c > 0 && stuck_at(p, c - 1);
	struct pages_slot s = {.offset = c, .anchored = p->overlap && c > 0 && !stuck};

	if (s.anchored)
		s.offset = c - 1;
	out[(*n)++] = s;
	while (!stuck && *n < max && need >= 0 && s.offset + p->page - 1 < need) {
		s.offset += p->stride;
		s.anchored = p->overlap;
		out[(*n)++] = s;
	}
}

int pages_check(struct pages *p, struct pages_slot *out, size_t max, size_t *n)
{
	struct clash cl;
	enum walk_result r;

	p->planning = false;
	*n = 0;
	while ((r = walk(p, false, &cl)) == WALK_CLASH)
		resolve(p, &cl);
	if (r == WALK_NOMEM)
		return -ENOMEM;
	if (complete(p, false))
		return 1;
	if (max)
		plan_gap(p, out, max, n);
	return 0;
}

/* ---- the result ------------------------------------------------------------ */

/* One copy of a name, with what settles a duplicate. */
struct held {
	struct decode_item *it;
	int64_t t;    /* UpdateTime in Unix seconds; INT64_MIN: none or unparsable */
	uint64_t seq; /* arrival order of its page */
};

/* UpdateTime as seconds, to tell which copy of a name is newer. Both
 * copies come from one server in one format, so the zone given to
 * zone-less times does not change their order. */
static int64_t item_time(const struct decode_item *it)
{
	int64_t t;

	return it->time && timefmt_parse(it->time, 0, &t) == 0 ? t : INT64_MIN;
}

/* By name; a name's copies newest first (by UpdateTime, then arrival), so
 * the first of a run is the one to keep. Total: qsort is not stable. */
static int cmp_held(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	int c = strcmp(x->it->name, y->it->name);

	if (c)
		return c;
	if (x->t != y->t)
		return x->t > y->t ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

/* The items of the pieces taken (the chain's, or every piece's). The
 * chain's pieces are marked first: a listing of a million entries is ten
 * thousand pieces, and looking each up in the chain would be quadratic. */
static struct held *collect(const struct pages *p, bool all, size_t *n)
{
	size_t want = 0;
	struct held *h;
	bool *take = calloc(p->n ? p->n : 1, sizeof(*take));

	for (size_t i = 0; i < p->n; i++)
		want += p->v[i].n;
	*n = 0;
	h = take ? malloc((want ? want : 1) * sizeof(*h)) : NULL;
	if (!h) {
		free(take);
		return NULL;
	}
	for (size_t k = 0; k < p->nchain; k++)
		take[p->chain[k].piece] = true;
	for (size_t i = 0; i < p->n; i++) {
		if (!all && !take[i])
			continue;
		for (size_t j = 0; j < p->v[i].n; j++)
			h[(*n)++] = (struct held){
			    .it = &p->v[i].items[j], .t = item_time(&p->v[i].items[j]), .seq = p->v[i].seq};
	}
	free(take);
	return h;
}

/* Sorts by name and keeps the newest copy of each, moving its strings. */
static int gather(struct pages *p, bool all, struct uhub_list *out)
{
	size_t n, keep = 0;
	struct held *h = collect(p, all, &n);
	struct uhub_entry *v;

	if (!h)
		return -ENOMEM;
	qsort(h, n, sizeof(*h), cmp_held);
	for (size_t i = 0; i < n; i++)
		if (!keep || strcmp(h[keep - 1].it->name, h[i].it->name))
			h[keep++] = h[i];
	v = calloc(keep ? keep : 1, sizeof(*v));
	if (!v) {
		free(h);
		return -ENOMEM;
	}
	for (size_t i = 0; i < keep; i++) {
		v[i] = (struct uhub_entry){.name = h[i].it->name, .time = h[i].it->time, .digest = h[i].it->digest};
		h[i].it->name = h[i].it->time = h[i].it->digest = NULL;
	}
	free(h);
	out->v = v;
	out->n = keep;
	return 0;
}

int pages_take(struct pages *p, bool lenient, struct uhub_list *out)
{
	struct clash cl;

	out->v = NULL;
	out->n = 0;
	out->unsure = false;
	if (lenient) {
		if (walk(p, true, &cl) == WALK_NOMEM)
			return -ENOMEM;
		if (!complete(p, true))
			return -EIO;
	}
	out->unsure = lenient || p->unverified;
	return gather(p, lenient, out);
}
