/* test_pages.c — a list assembled from overlapping offset pages: the plan
 * of the first pass, joins checked where pages overlap, the stale side of
 * a disagreement dropped and fetched again (in spans that double), empty
 * pages' claims, pages of one item joined by TotalCount, the strict and
 * the lenient ("unsure") results, and the caps. Pages are made by hand
 * from a list of names, as a server would cut them at some instant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pages.h"

#define MAX 100000
#define BYTES ((size_t)64 << 20)

/* The page at offset off of a list names[0..n) cut at size items, as the
 * server would answer it (TotalCount n, or total when >= 0 is given);
 * a name "" stands for an item the decoder refused. */
static struct decode_reply page_of(const char *const *names, long long n, long long off, long long size,
				   long long total)
{
	struct decode_reply r = {.total = total >= 0 ? total : n};
	long long got = off < n ? (n - off < size ? n - off : size) : 0;

	r.items = calloc(got ? (size_t)got : 1, sizeof(*r.items));
	assert_non_null(r.items);
	for (long long i = 0; i < got; i++) {
		const char *name = names[off + i];

		if (!*name) {
			r.skipped++;
			continue;
		}
		r.items[r.n].name = strdup(name);
		r.items[r.n].time = strdup("1764200000");
		r.items[r.n].pos = (size_t)i;
		r.n++;
	}
	return r;
}

/* A list of n names "n000".."n(n-1)", the first `from` of them shifted
 * by `shift` (deleted when shift < 0, pushed as "a000".. before when > 0). */
struct list {
	char *v[512];
	long long n;
};

static void list_make(struct list *l, long long n)
{
	l->n = n;
	for (long long i = 0; i < n; i++) {
		char buf[16];

		snprintf(buf, sizeof(buf), "n%03lld", i);
		l->v[i] = strdup(buf);
	}
}

static void list_free(struct list *l)
{
	for (long long i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Deletes item at (the list moves left from there). */
static void list_delete(struct list *l, long long at)
{
	free(l->v[at]);
	memmove(&l->v[at], &l->v[at + 1], (size_t)(l->n - at - 1) * sizeof(l->v[0]));
	l->n--;
}

/* Pushes name at (the list moves right from there). */
static void list_push(struct list *l, long long at, const char *name)
{
	memmove(&l->v[at + 1], &l->v[at], (size_t)(l->n - at) * sizeof(l->v[0]));
	l->v[at] = strdup(name);
	l->n++;
}

static struct pages *start(const struct list *l, long long size)
{
	struct decode_reply r = page_of((const char *const *)l->v, l->n, 0, size, -1);
	char why[160];
	int err;
	struct pages *p = pages_new(&r, MAX, BYTES, &err, why, sizeof(why));

	decode_reply_release(&r);
	assert_non_null(p);
	return p;
}

static void add(struct pages *p, const struct list *l, const struct pages_slot *s, long long size)
{
	struct decode_reply r = page_of((const char *const *)l->v, l->n, s->offset, size, -1);
	char why[160];

	assert_int_equal(pages_add(p, s, pages_sent(p), &r, why, sizeof(why)), 0);
	decode_reply_release(&r);
}

/* Runs the first pass against l as it is now. */
static void first_pass(struct pages *p, const struct list *l, long long size)
{
	struct pages_slot s;

	while (pages_plan(p, &s))
		add(p, l, &s, size);
}

/* Checks, and fetches what a check asks for from l, until complete;
 * returns the pages fetched after the first pass. */
static int settle(struct pages *p, const struct list *l, long long size)
{
	struct pages_slot s[64];
	size_t n;
	int fetched = 0, r;

	while ((r = pages_check(p, s, 64, &n)) == 0) {
		assert_true(n > 0);
		for (size_t i = 0; i < n; i++, fetched++)
			add(p, l, &s[i], size);
		assert_true(fetched < 1000);
	}
	assert_int_equal(r, 1);
	return fetched;
}

/* out holds exactly l's names, in order. */
static void assert_is(const struct uhub_list *out, const struct list *l)
{
	assert_int_equal(out->n, (size_t)l->n);
	for (long long i = 0; i < l->n; i++)
		assert_string_equal(out->v[i].name, l->v[i]);
}

static void take_and_check_as(struct pages *p, const struct list *l, bool unsure)
{
	struct uhub_list out;

	assert_int_equal(pages_take(p, false, &out), 0);
	assert_int_equal(out.unsure, unsure);
	assert_is(&out, l);
	uhub_list_release(&out);
}

static void take_and_check(struct pages *p, const struct list *l)
{
	take_and_check_as(p, l, false);
}

/* A list that holds still: pages at a stride of size - 1, every join
 * agrees, nothing more to fetch. */
static void test_still(void **state)
{
	struct list l;
	struct pages_slot s;
	struct pages *p;
	int n = 0;

	(void)state;
	list_make(&l, 95);
	p = start(&l, 10);
	assert_int_equal(pages_page(p), 10);
	assert_int_equal(pages_planned(p), 10);
	while (pages_plan(p, &s)) {
		assert_true(s.anchored);
		assert_int_equal(s.offset, 9 * (n + 1));
		add(p, &l, &s, 10);
		n++;
	}
	assert_int_equal(n, 10); /* 1 + ceil(85 / 9) pages in all */
	assert_int_equal(settle(p, &l, 10), 0);
	take_and_check(p, &l);
	pages_free(p);
	list_free(&l);
}

/* A delete ahead of the boundaries after the first page: every later
 * page shifts left; the first page disagrees with the second and is
 * fetched again. Without the overlap n010 would be in neither page. */
static void test_shift_left(void **state)
{
	struct list l;
	struct pages *p;

	(void)state;
	list_make(&l, 40);
	p = start(&l, 10);
	list_delete(&l, 1);
	first_pass(p, &l, 10);
	assert_int_equal(settle(p, &l, 10), 1);
	take_and_check(p, &l);
	pages_free(p);
	list_free(&l);
}

/* A push ahead of the boundaries: later pages shift right. */
static void test_shift_right(void **state)
{
	struct list l;
	struct pages *p;

	(void)state;
	list_make(&l, 40);
	p = start(&l, 10);
	list_push(&l, 0, "a000");
	first_pass(p, &l, 10);
	assert_int_equal(settle(p, &l, 10), 1);
	take_and_check(p, &l);
	pages_free(p);
	list_free(&l);
}

/* A change after the third of five pages: the third disagrees with the
 * fourth, is fetched again, and then the second disagrees: spans double,
 * so the repair takes rounds logarithmic in the stale pages. */
static void test_shift_late(void **state)
{
	struct list l;
	struct pages_slot s;
	struct pages *p;
	int n = 0, fetched;

	(void)state;
	list_make(&l, 200);
	p = start(&l, 10);
	while (pages_plan(p, &s)) {
		if (n++ == 15)
			list_delete(&l, 0);
		add(p, &l, &s, 10);
	}
	fetched = settle(p, &l, 10);
	assert_true(fetched >= 16 && fetched <= 2 * 17);
	take_and_check(p, &l);
	pages_free(p);
	list_free(&l);
}

/* An empty page claims the end; a piece holding items past it disagrees
 * (the list shrank after it was fetched, or grew after the claim). */
static void test_end_claims(void **state)
{
	struct list l;
	struct pages *p;
	struct pages_slot s;

	(void)state;
	list_make(&l, 30);
	p = start(&l, 10);
	assert_true(pages_plan(p, &s)); /* 9 */
	add(p, &l, &s, 10);
	assert_true(pages_plan(p, &s)); /* 18 */
	for (int i = 0; i < 15; i++)
		list_delete(&l, 0); /* 15 left: the page at 18 is empty */
	add(p, &l, &s, 10);
	while (pages_plan(p, &s))
		add(p, &l, &s, 10);
	settle(p, &l, 10);
	take_and_check(p, &l);
	pages_free(p);
	list_free(&l);
}

/* Pages of one item cannot overlap: they are joined by TotalCount, and a
 * change shows as two that disagree; a join on TotalCount alone is no
 * proof (a delete and a push leave it as it was), so the list is unsure. */
static void test_one_item_pages(void **state)
{
	struct list l;
	struct pages *p;
	struct pages_slot s;
	int n = 0;

	(void)state;
	list_make(&l, 12);
	p = start(&l, 1);
	while (pages_plan(p, &s)) {
		assert_false(s.anchored);
		if (n++ == 5)
			list_delete(&l, 0);
		add(p, &l, &s, 1);
	}
	settle(p, &l, 1);
	take_and_check_as(p, &l, true);
	pages_free(p);
	list_free(&l);
}

/* A page with no TotalCount and one item a page: nothing can be checked,
 * and the result says so. */
static void test_unverified(void **state)
{
	struct list l;
	struct decode_reply r;
	struct pages *p;
	struct pages_slot s[4];
	struct uhub_list out;
	size_t n;
	char why[160];
	int err;

	(void)state;
	list_make(&l, 3);
	r = page_of((const char *const *)l.v, l.n, 0, 1, -1);
	r.total = -1;
	p = pages_new(&r, MAX, BYTES, &err, why, sizeof(why));
	decode_reply_release(&r);
	assert_non_null(p);
	for (long long off = 1; off <= 3; off++) {
		struct pages_slot one = {.offset = off};

		r = page_of((const char *const *)l.v, l.n, off, 1, -1);
		r.total = -1;
		assert_int_equal(pages_add(p, &one, pages_sent(p), &r, why, sizeof(why)), 0);
		decode_reply_release(&r);
	}
	assert_int_equal(pages_check(p, s, 4, &n), 1);
	assert_int_equal(pages_take(p, false, &out), 0);
	assert_true(out.unsure);
	assert_is(&out, &l);
	uhub_list_release(&out);
	pages_free(p);
	list_free(&l);
}

/* A refused item where two pages overlap: that join cannot be compared
 * by name and is joined by TotalCount (unsure); but a refused item on one
 * side and a name on the other is a shift. */
static void test_refused_at_join(void **state)
{
	struct list l;
	struct pages *p;
	struct uhub_list out;

	(void)state;
	list_make(&l, 20);
	free(l.v[9]);
	l.v[9] = strdup("");
	p = start(&l, 10);
	first_pass(p, &l, 10);
	settle(p, &l, 10);
	assert_int_equal(pages_take(p, false, &out), 0);
	assert_true(out.unsure);
	assert_int_equal(out.n, 19);
	uhub_list_release(&out);
	pages_free(p);
	/* The first page ends on a refused item; the front goes, and a name
	 * comes at the end (TotalCount as it was), before the second page:
	 * there a name stands where the first saw the refused one. Repaired,
	 * and verified by names. */
	p = start(&l, 10);
	list_delete(&l, 0);
	list_push(&l, l.n, "zzz");
	first_pass(p, &l, 10);
	assert_int_equal(settle(p, &l, 10), 1);
	assert_int_equal(pages_take(p, false, &out), 0);
	assert_false(out.unsure);
	assert_int_equal(out.n, 19);
	uhub_list_release(&out);
	pages_free(p);
	list_free(&l);
}

/* Lenient: what was received covers the list (unsure, every name seen),
 * or it does not (EIO). */
static void test_lenient(void **state)
{
	struct list l;
	struct pages *p;
	struct pages_slot s;
	struct uhub_list out;

	(void)state;
	list_make(&l, 30);
	p = start(&l, 10);
	assert_int_equal(pages_take(p, true, &out), -EIO); /* 10 of 30 */
	while (pages_plan(p, &s)) {
		list_delete(&l, 0);
		add(p, &l, &s, 10);
	}
	assert_int_equal(pages_take(p, true, &out), 0);
	assert_true(out.unsure);
	assert_true(out.n >= 27);
	for (size_t i = 1; i < out.n; i++)
		assert_true(strcmp(out.v[i - 1].name, out.v[i].name) < 0);
	uhub_list_release(&out);
	pages_free(p);
	list_free(&l);
}

/* The caps: entries (a page of slack) and bytes. */
static void test_caps(void **state)
{
	struct list l;
	struct decode_reply r;
	struct pages_slot s = {.offset = 9, .anchored = true};
	char why[160];
	int err;
	struct pages *p;

	(void)state;
	list_make(&l, 40);
	r = page_of((const char *const *)l.v, l.n, 0, 10, -1);
	assert_null(pages_new(&r, MAX, 64, &err, why, sizeof(why)));
	assert_int_equal(err, -EFBIG);
	assert_non_null(strstr(why, "bytes"));
	decode_reply_release(&r);
	r = page_of((const char *const *)l.v, l.n, 0, 10, -1);
	p = pages_new(&r, 5, BYTES, &err, why, sizeof(why));
	decode_reply_release(&r);
	assert_non_null(p);
	r = page_of((const char *const *)l.v, l.n, 9, 10, -1);
	assert_int_equal(pages_add(p, &s, pages_sent(p), &r, why, sizeof(why)), -EFBIG);
	assert_non_null(strstr(why, "entries"));
	decode_reply_release(&r);
	pages_free(p);
	list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_still),	      cmocka_unit_test(test_shift_left),
	    cmocka_unit_test(test_shift_right),     cmocka_unit_test(test_shift_late),
	    cmocka_unit_test(test_end_claims),      cmocka_unit_test(test_one_item_pages),
	    cmocka_unit_test(test_unverified),      cmocka_unit_test(test_refused_at_join),
	    cmocka_unit_test(test_lenient),	      cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
