/* fs_notice.c — what the kernel is told to forget, from outside a
 * request: what a listing just fetched contradicts (a tree change notice),
 * a flush (SIGHUP), another host's invalidation through the shared tier;
 * and the wait of a request that found a tag's bytes changed for the
 * kernel to have dropped its pages. The telling itself is notify's
 * thread (notify.h); the inode numbers come from our table.
 */
#include "fs.h"

#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cache.h"
#include "fs_int.h"
#include "inode.h"
#include "names.h"
#include "notify.h"
#include "tier.h"
#include "tree.h"

/* How long a stat that found a tag changed waits for the kernel to have
 * dropped its pages (settle). */
#define SETTLE_WAIT_MS 200

/* ---- telling the kernel what to forget ---------------------------------- */

/* Past this many of a directory's files to tell the kernel about, it is
 * told about the whole directory instead (one job, not a queue's worth). */
#define FILES_ONE_BY_ONE 64

/* Queues, for the held inodes among files names[0..n) of directory dir
 * (each also as NAME@tag, the name a tag has beside a nested image
 * directory of its name), the loss of their attributes and pages. */
static void forget_files(struct imgtagfs *fs, uint64_t dir, const char *const *names, size_t n)
{
	uint64_t ino, v[FILES_ONE_BY_ONE], ticket = 0;
	char alias[NAMES_MAX + sizeof(TREE_TAG_ALIAS)];
	size_t nv = 0;

	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			if (k && snprintf(alias, sizeof(alias), "%s%s", names[i], TREE_TAG_ALIAS) >= (int)sizeof(alias))
				continue;
			if (inode_find(fs->inodes, dir, k ? alias : names[i], false, &ino) != 0)
				continue;
			if (nv == FILES_ONE_BY_ONE) {
				notify_forget(fs->kn, dir, NOTIFY_CHANGED);
				return;
			}
			v[nv++] = ino;
		}
	for (size_t i = 0; i < nv; i++)
		ticket = notify_forget(fs->kn, v[i], NOTIFY_INODE);
	/* Tickets only grow, but two threads may store out of order. */
	for (uint64_t was = atomic_load(&fs->files_ticket);
	     nv && was < ticket && !atomic_compare_exchange_weak(&fs->files_ticket, &was, ticket);)
		;
}

/* A request that found a tag's bytes changed (a fill it caused named the
 * file to the kernel: forget_files) replies once the kernel has dropped
 * the old pages, within a bound: the kernel keeps a file's pages across a
 * GETATTR that shows the same mtime and size, so the read that follows
 * the stat would find them. Not with -s, whose one thread the kernel may
 * need for what the notify thread waits on. */
void fs_settle(struct imgtagfs *fs, uint64_t before)
{
	uint64_t t = atomic_load(&fs->files_ticket);

	if (t > before && !fs->single_thread)
		notify_wait(fs->kn, t, SETTLE_WAIT_MS);
}

/* A listing just fetched contradicts what the kernel may hold under path
 * (the cache's lock may be held: queue only): it forgets that now,
 * instead of when it would have expired. Only what it holds is named: the
 * numbers are looked up in our inode table (a collision's salt included). */
void fs_on_changed(void *arg, const char *path, const char *const *names, size_t n, enum tree_change how)
{
	struct imgtagfs *fs = arg;
	uint64_t ino;

	if (inode_find_path(fs->inodes, path, true, &ino) != 0)
		return; /* the kernel holds nothing there */
	if (how == TREE_CHANGED_FILES)
		forget_files(fs, ino, names, n);
	else if (how == TREE_CHANGED_DEEP)
		notify_forget(fs->kn, ino == INODE_ROOT ? 0 : ino, NOTIFY_FLUSH);
	else
		notify_forget(fs->kn, ino, NOTIFY_CHANGED);
}

/* For notify: does path still stand as what the kernel knows it as? From
 * cached listings only: the notify thread must not wait on the network
 * (a name that cannot be told now is forgotten by the kernel, which then
 * asks again). */
int fs_still_there(void *arg, const char *path, bool dir)
{
	struct imgtagfs *fs = arg;
	struct stat st;

	return tree_stat_cached(fs->t, path, &st) == 0 && !!S_ISDIR(st.st_mode) == dir;
}

void fs_flush(struct imgtagfs *fs)
{
	/* Our cache first: a lookup between the two steps must find nothing
	 * old to bring back into the kernel. */
	tree_flush(fs->t);
	notify_wait(fs->kn, notify_forget(fs->kn, 0, NOTIFY_FLUSH), FORGET_WAIT_MS);
}

/* Another host invalidated a listing (NULL: every one): ours goes, and
 * the kernel is told; on the subscriber's thread, not in a request. */
static void on_remote(void *arg, const char *key)
{
	struct imgtagfs *fs = arg;

	if (key) {
		tree_forget(fs->t, key);
	} else {
		cache_clear(fs->c); /* not tree_flush: that would tell the fleet back */
		notify_forget(fs->kn, 0, NOTIFY_FLUSH);
	}
}

void fs_set_tier(struct imgtagfs *fs, struct tier *tier)
{
	fs->tier = tier;
	if (tier)
		tier_set_receiver(tier, on_remote, fs);
}
