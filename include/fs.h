/* fs.h — the FUSE layer: thin callbacks that map FUSE operations onto the
 * tree, make the filesystem read-only (EROFS for every write), and carry
 * the one context (struct imgtagfs) as FUSE private_data.
 */
#ifndef IMGTAGFS_FS_H
#define IMGTAGFS_FS_H

#include <stdbool.h>
#include <stdint.h>

struct fuse_operations;
struct tree;
struct log;

struct fs_config {
	double kernel_timeout;	/* entry/attr timeout handed to the kernel */
	double negative_timeout;
	int64_t ttl_ms;
	bool foreground;	/* else log to syslog once mounted */
};

/* The context: borrows tree and log. NULL on -ENOMEM. */
struct imgtagfs *fs_new(const struct fs_config *cfg, struct tree *t, struct log *log);
void fs_free(struct imgtagfs *fs);

/* The operations table for fuse_main(); private_data is a struct imgtagfs. */
const struct fuse_operations *fs_operations(void);

#endif
