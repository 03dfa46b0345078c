/* daemon.h — the mount's lifetime: mount, detach, serve, unmount; and the
 * signals an operator uses: SIGHUP drops every cached listing (and the
 * kernel's cached entries), SIGUSR1 toggles debug logging, SIGINT/SIGTERM
 * (and fusermount3 -u / umount) end the daemon cleanly with status 0.
 *
 * libfuse's fuse_main() would make SIGHUP end the daemon, so this module
 * runs libfuse's steps itself. Runs once, from main.
 */
#ifndef IMGTAGFS_DAEMON_H
#define IMGTAGFS_DAEMON_H

#include "fs.h"
#include "log.h"

struct fuse_args;

/* Mounts (args holds libfuse's options and the mountpoint), detaches
 * unless foreground, serves until unmounted or signalled, and unmounts.
 * fs is the FUSE private_data. 0 on a clean end, -errno when the mount
 * could not be made (a one-line reason is logged). */
int daemon_run(struct fuse_args *args, struct imgtagfs *fs, struct log *log);

#endif
