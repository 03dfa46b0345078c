/* test_notify.c — the notify thread's stores, against a fake kernel that
 * keeps one page a file: what a batch stores, and that nothing stored
 * outlives the bytes it came from when the listing changes during the
 * batch: the change's own invalidation comes after the stores; and when
 * the kernel let the files go and looked them up again meanwhile (so
 * that invalidation found none of them held), the stamp checked after
 * the batch takes the stores back. Invalidations queued before a batch
 * go first; the queue of batches is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fresh.h"
#include "inode.h"
#include "notify.h"

#define FILES 80 /* more than a chunk (NOTIFY_STORE_CHUNK) */
#define CHANGE_NONE 0
#define CHANGE_HELD 1	   /* the listing changes; the kernel holds the files */
#define CHANGE_FORGOTTEN 2 /* and it had let them go, and looked them up again */

struct fake {
	struct inode_table *inodes;
	struct fresh *fresh;
	struct notify *n;
	uint64_t dir, ino[FILES + 1];
	/* the kernel: one page a file, "" when none; alive: it holds the inode */
	char page[FILES + 1][16];
	bool alive[FILES + 1];
	char log[4096]; /* "s3 i3 " stores and invalidations, in order */
	/* the listing */
	int version;
	int change; /* what happens at file change_at of a batch */
	int change_at;
	uint64_t ticket; /* of the change's invalidation, when queued */
	int forget_at;	 /* storing this file queues an invalidation */
	bool block;	 /* list() waits while true */
	int entered;	 /* list() calls begun */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;      /* batches over */
	size_t unused; /* of the last */
};

static int file_of(struct fake *f, uint64_t ino)
{
	for (int i = 1; i <= FILES; i++)
		if (f->ino[i] == ino)
			return i;
	return 0;
}

static void logf_(struct fake *f, char op, int i)
{
	size_t len = strlen(f->log);

	snprintf(f->log + len, sizeof(f->log) - len, "%c%d ", op, i);
}

static int k_entry(void *arg, uint64_t parent, const char *name)
{
	struct fake *f = arg;
	size_t len = strlen(f->log);

	snprintf(f->log + len, sizeof(f->log) - len, "e%s ", parent == INODE_ROOT ? "/" : "");
	(void)name;
	return 0;
}

static int k_inode(void *arg, uint64_t ino)
{
	struct fake *f = arg;
	int i = file_of(f, ino);

	if (i) {
		f->page[i][0] = '\0';
		logf_(f, 'i', i);
	}
	return 0;
}

static int k_store(void *arg, uint64_t ino, const char *bytes, size_t len)
{
	struct fake *f = arg;
	int i = file_of(f, ino);

	if (!i || !f->alive[i])
		return -ENOENT;
	snprintf(f->page[i], sizeof(f->page[i]), "%.*s", (int)len, bytes);
	logf_(f, 's', i);
	if (i == f->forget_at)
		f->ticket = notify_forget(f->n, f->ino[FILES], NOTIFY_INODE);
	return 0;
}

/* What the tree's hook does when a new listing is installed: the
 * kernel is told what it holds of the directory (nothing, when it let
 * the directory's files go: fs.c's on_changed finds none). */
static void install(struct fake *f)
{
	f->version++;
	if (f->change == CHANGE_FORGOTTEN) {
		/* The kernel forgot them (its pages went with them), then
		 * looked them up again under the new listing. */
		for (int i = f->change_at; i <= FILES; i++) {
			inode_forget(f->inodes, f->ino[i], 1, NULL);
			f->alive[i] = false;
			f->page[i][0] = '\0';
		}
		for (int i = f->change_at; i <= FILES; i++) {
			char name[16];

			snprintf(name, sizeof(name), "t%d", i);
			assert_int_equal(inode_ref(f->inodes, f->dir, name, false, &f->ino[i]), 0);
			f->alive[i] = true;
		}
	} else {
		f->ticket = notify_forget(f->n, f->dir, NOTIFY_CHANGED);
	}
}

static int src_list(void *arg, const struct notify_chunk *c, notify_file_fn each, void *each_arg, uint64_t *stamp)
{
	struct fake *f = arg;
	int seen = f->version; /* the snapshot the chunk reads */
	char name[16], bytes[16];
	size_t n = 0;

	pthread_mutex_lock(&f->mu);
	f->entered++;
	pthread_cond_broadcast(&f->cv);
	while (f->block)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	*stamp = (uint64_t)seen;
	for (int i = *c->after ? atoi(c->after + 1) + 1 : 1; i <= FILES && n < c->max; i++, n++) {
		if (i == f->change_at && f->change != CHANGE_NONE)
			install(f);
		snprintf(name, sizeof(name), "t%d", i);
		snprintf(bytes, sizeof(bytes), "v%d", seen);
		each(each_arg, name, bytes, strlen(bytes));
	}
	return 0;
}

static uint64_t src_stamp(void *arg, const char *path)
{
	(void)path;
	return (uint64_t)((struct fake *)arg)->version;
}

static void src_done(void *arg, uint64_t dir, size_t unused)
{
	struct fake *f = arg;

	(void)dir;
	pthread_mutex_lock(&f->mu);
	f->done++;
	f->unused = unused;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static int exists(void *arg, const char *path, bool dir)
{
	(void)arg;
	(void)path;
	(void)dir;
	return 1;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct fresh_config fc = {.ttl_ms = 60000, .neg_ttl_ms = 5000};
	const struct notify_kernel k = {.inval_entry = k_entry, .inval_inode = k_inode, .store = k_store, .arg = f};
	const struct notify_files src = {.list = src_list, .stamp = src_stamp, .done = src_done, .arg = f};
	char name[16];

	f->inodes = inode_table_new();
	f->fresh = fresh_new(&fc);
	assert_int_equal(inode_ref(f->inodes, INODE_ROOT, "img", true, &f->dir), 0);
	for (int i = 1; i <= FILES; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(inode_ref(f->inodes, f->dir, name, false, &f->ino[i]), 0);
		f->alive[i] = true;
	}
	f->version = 1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->n = notify_new(f->inodes, f->fresh, exists, f);
	assert_non_null(f->n);
	notify_set_kernel(f->n, &k);
	notify_set_files(f->n, &src);
	assert_int_equal(notify_start(f->n, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	notify_free(f->n);
	inode_table_free(f->inodes);
	fresh_free(f->fresh);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return 0;
}

/* Holds the thread in a batch: returns once it is inside. */
static void hold_thread(struct fake *f)
{
	f->block = true;
	assert_int_equal(notify_store(f->n, f->dir, "", 1), 0);
	pthread_mutex_lock(&f->mu);
	while (!f->entered)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

static void release_thread(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->block = false;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Waits until batches are over, and the change's invalidation sent. */
static void wait_batches(struct fake *f, int batches)
{
	pthread_mutex_lock(&f->mu);
	while (f->done < batches)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	if (f->ticket)
		assert_int_equal(notify_wait(f->n, f->ticket, 10000), 0);
}

/* Every page the kernel keeps is the current listing's (or there is none). */
static void assert_no_old_page(struct fake *f)
{
	char want[8];

	snprintf(want, sizeof(want), "v%d", f->version);
	for (int i = 1; i <= FILES; i++)
		if (f->page[i][0] && strcmp(f->page[i], want) != 0)
			fail_msg("t%d keeps %s, the listing shows %s (%s)", i, f->page[i], want, f->log);
}

static void test_batch_stores(void **state)
{
	struct fake *f = *state;
	struct notify_stats st;

	assert_int_equal(notify_store(f->n, f->dir, "t2", 6), 0);
	wait_batches(f, 1);
	assert_string_equal(f->log, "s3 s4 s5 s6 s7 s8 ");
	assert_string_equal(f->page[8], "v1");
	assert_string_equal(f->page[2], "");
	assert_string_equal(f->page[9], "");
	assert_int_equal(f->unused, 0);
	/* Past a chunk, to the directory's end: the rest of max is unused. */
	f->log[0] = '\0';
	assert_int_equal(notify_store(f->n, f->dir, "t8", 1000), 0);
	wait_batches(f, 2);
	assert_string_equal(f->page[FILES], "v1");
	assert_int_equal(f->unused, 1000 - (FILES - 8));
	notify_get_stats(f->n, &st);
	assert_int_equal(st.stored, FILES - 2);
	assert_int_equal(st.dropped, 0);
}

/* A file the kernel does not hold is skipped, and so is one it refused. */
static void test_not_held_skipped(void **state)
{
	struct fake *f = *state;
	struct notify_stats st;

	inode_forget(f->inodes, f->ino[3], 1, NULL);
	f->alive[5] = false;
	assert_int_equal(notify_store(f->n, f->dir, "", 4), 0);
	wait_batches(f, 1);
	assert_string_equal(f->log, "s1 s2 s4 ");
	notify_get_stats(f->n, &st);
	assert_int_equal(st.stored, 3);
	assert_int_equal(st.skipped, 1 + 0); /* t3; t5 is past the 4 asked for */
}

/* The listing changes in the middle of a batch, the kernel holding the
 * files: the stores of old bytes come before the change's invalidation. */
static void test_change_during_batch(void **state)
{
	struct fake *f = *state;

	f->change = CHANGE_HELD;
	f->change_at = 4;
	assert_int_equal(notify_store(f->n, f->dir, "", 100), 0);
	wait_batches(f, 1);
	assert_no_old_page(f);
}

/* The same in a later chunk: the stamp of the chunk tells. */
static void test_change_between_chunks(void **state)
{
	struct fake *f = *state;
	struct notify_stats st;

	f->change = CHANGE_FORGOTTEN;
	f->change_at = NOTIFY_STORE_CHUNK + 5;
	assert_int_equal(notify_store(f->n, f->dir, "", 100), 0);
	wait_batches(f, 1);
	assert_no_old_page(f);
	notify_get_stats(f->n, &st);
	assert_int_equal(st.stored, 0);
	assert_int_equal(st.dropped, 2 * NOTIFY_STORE_CHUNK); /* the chunks up to the change */
}

/* The listing changes in the middle of a batch while the kernel has let
 * the files go and looks them up again: the change's invalidation found
 * nothing to tell, and the stores that follow land in the new inodes;
 * the stamp, checked after the batch, takes them back. */
static void test_change_while_forgotten(void **state)
{
	struct fake *f = *state;
	struct notify_stats st;

	f->change = CHANGE_FORGOTTEN;
	f->change_at = 4;
	assert_int_equal(notify_store(f->n, f->dir, "", 100), 0);
	wait_batches(f, 1);
	assert_no_old_page(f);
	notify_get_stats(f->n, &st);
	/* The first chunk, stored from the old listing: taken back; the
	 * next chunk, from the new one, stores nothing. */
	assert_int_equal(st.dropped, NOTIFY_STORE_CHUNK);
	assert_int_equal(st.stored, 0);
}

static size_t count(const char *log, const char *what)
{
	size_t n = 0;

	for (const char *p = log; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* An invalidation queued while a batch runs (a request may wait for it)
 * waits for the chunk being stored, not for the batch: the batch ends
 * there, what it did not store goes back to the budget. */
static void test_batch_yields(void **state)
{
	struct fake *f = *state;
	char want[16];

	f->forget_at = 2;
	assert_int_equal(notify_store(f->n, f->dir, "", 100), 0);
	wait_batches(f, 1);
	snprintf(want, sizeof(want), "s%d i%d ", NOTIFY_STORE_CHUNK, FILES);
	assert_non_null(strstr(f->log, want));
	assert_int_equal(count(f->log, "s"), NOTIFY_STORE_CHUNK);
	assert_int_equal(f->unused, 100 - NOTIFY_STORE_CHUNK);
	assert_string_equal(f->page[NOTIFY_STORE_CHUNK], "v1");
}

/* An invalidation queued before a batch is sent before it. */
static void test_invalidations_first(void **state)
{
	struct fake *f = *state;

	hold_thread(f);
	assert_int_equal(notify_store(f->n, f->dir, "t1", 1), 0);
	f->ticket = notify_forget(f->n, f->ino[2], NOTIFY_INODE);
	release_thread(f);
	wait_batches(f, 2);
	assert_string_equal(f->log, "s1 i2 s2 ");
}

/* A flush tells the kernel to drop the names right below the directory
 * (it drops what lies below with each) and every inode's attributes and
 * pages: a notification a name, not two. */
static void test_flush(void **state)
{
	struct fake *f = *state;

	assert_int_equal(notify_wait(f->n, notify_forget(f->n, f->dir, NOTIFY_FLUSH), 10000), 0);
	assert_int_equal(count(f->log, "e"), FILES);
	assert_int_equal(count(f->log, "i"), FILES);
	f->log[0] = '\0';
	assert_int_equal(notify_wait(f->n, notify_forget(f->n, 0, NOTIFY_FLUSH), 10000), 0);
	assert_string_equal(strstr(f->log, "e"), strrchr(f->log, 'e')); /* one name: img, below / */
	assert_int_equal(count(f->log, "e/"), 1);
	assert_int_equal(count(f->log, "i"), FILES);
}

/* The queue holds NOTIFY_STORE_QUEUE batches; a stop ends those left. */
static void test_queue_bounded(void **state)
{
	struct fake *f = *state;
	int queued = 0;

	hold_thread(f);
	while (notify_store(f->n, f->dir, "", 1) == 0)
		queued++;
	assert_int_equal(queued, NOTIFY_STORE_QUEUE);
	release_thread(f);
	notify_stop(f->n);
	assert_int_equal(f->done, queued + 1);
	assert_int_equal(notify_store(f->n, f->dir, "", 1), -EAGAIN); /* stopped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_batch_stores, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_held_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_during_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_while_forgotten, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_between_chunks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidations_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_yields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
