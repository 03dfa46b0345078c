/* fs_ctl.c — the FUSE layer's control plane: the values of the stats and
 * refresh attributes (fs.h). A refresh costs the owner API calls, so it
 * is for the owner and root only, at a bounded rate (a token bucket under
 * fs->mu); it drops our listing first, then has the kernel forget its
 * copies. The FUSE operations that read these attributes are in fs_xattr.c.
 */
#include "fs.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "fresh.h"
#include "fs_int.h"
#include "inode.h"
#include "log.h"
#include "notify.h"
#include "stats.h"
#include "tree.h"
#include "watchdog.h"

/* What the daemon has allocated and not freed (small blocks and mmapped
 * large ones), without what the allocator keeps free: RSS counts pages
 * the heap keeps for reuse too, so this is what shows a leak. */
static size_t heap_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#else
	return 0;
#endif
}

int fs_ctl_stats(struct imgtagfs *fs, struct buf *v)
{
	const struct stats_src src = {
	    .u = fs->u, .c = fs->c, .tier = fs->tier, .ps = fs->ps, .kn = fs->kn, .pr = fs->pr};
	const struct stats_fuse f = {.opens = atomic_load(&fs->opens),
				     .getattrs = atomic_load(&fs->getattrs),
				     .lookups = atomic_load(&fs->lookups),
				     .readdirs = atomic_load(&fs->readdirs),
				     .reads = atomic_load(&fs->reads),
				     .forgets = atomic_load(&fs->forgets),
				     .handle_names = atomic_load(&fs->hunted),
				     .inodes = inode_count(fs->inodes),
				     .open_dirs = fs_dirs_open(fs),
				     .open_dirs_bytes = atomic_load(&fs->dirs_kept_bytes),
				     .deadline_timeouts = watchdog_timeouts(fs->wd),
				     .heap_bytes = heap_bytes()};

	return stats_render(&src, &f, v);
}

/* Refreshing costs the owner's API calls: only the owner and root may,
 * at a bounded rate (a token bucket). 0, -EPERM or -EAGAIN. */
static int may_refresh(struct imgtagfs *fs, fuse_req_t req)
{
	const struct fuse_ctx *who = fuse_req_ctx(req);
	int64_t now = fresh_now(fs->fresh);
	int err = 0;

	if (who->uid != 0 && who->uid != fs->cfg.owner)
		return -EPERM;
	pthread_mutex_lock(&fs->mu);
	fs->tokens += (double)(now - fs->tokens_at) * FS_REFRESH_PER_S / 1000.0;
	if (fs->tokens > FS_REFRESH_BURST)
		fs->tokens = FS_REFRESH_BURST;
	fs->tokens_at = now;
	if (fs->tokens < 1.0)
		err = -EAGAIN;
	else
		fs->tokens -= 1.0;
	pthread_mutex_unlock(&fs->mu);
	return err;
}

/* Drops path's listing, then (ours first, fs_flush's order) the kernel's
 * names, attributes, pages and directory copy under it: inline when other
 * threads serve requests meanwhile, from our own thread with -s. */
int fs_ctl_refresh(struct imgtagfs *fs, fuse_req_t req, fuse_ino_t ino, const char *path, bool dir)
{
	int err = may_refresh(fs, req);

	if (err)
		return err;
	if (strcmp(path, "/") == 0)
		tree_flush(fs->t);
	else if ((err = tree_refresh(fs->t, path)) != 0)
		return err;
	/* A tag's refresh drops its image's listing: forget the directory. */
	if (!dir && inode_parent(fs->inodes, ino, &ino) != 0)
		return 0; /* the kernel holds no such inode any more */
	/* Told from notify's thread, never from this request (the kernel may
	 * need a lock held by a request waiting for a worker); the reply waits
	 * for it, within a bound, so the change is visible when it comes. */
	notify_wait(fs->kn, notify_forget(fs->kn, ino == INODE_ROOT ? 0 : ino, NOTIFY_FLUSH), FORGET_WAIT_MS);
	log_msg(fs->log, LOG_INFO, "refreshed %s", path);
	return 0;
}
