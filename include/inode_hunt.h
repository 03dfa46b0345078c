/* inode_hunt.h — finding the path of an inode number the kernel forgot
 * but still names in a file handle (open_by_handle_at after drop_caches,
 * an NFS re-export), among the cached listings (tree.h), and entering it
 * in the inode table (inode.h) again.
 */
#ifndef IMGTAGFS_INODE_HUNT_H
#define IMGTAGFS_INODE_HUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct inode_table;
struct tree;

/* Looks for the path whose number is ino (only numbers without a
 * collision salt can be found) in the cached listings, at most 16,384
 * names, directories before tags; on 0 it is in it again with one lookup
 * taken, *got its number (== ino) and *dir its kind. *seen: the names
 * looked at. 0, -ESTALE (not found: not cached, too far, or taken by a
 * colliding path), -ENOMEM, or inode_ref_path's -errno. Thread-safe as
 * the table and the tree are; reads from the caller's thread. */
int inode_hunt(struct inode_table *it, struct tree *t, uint64_t ino, uint64_t *got, bool *dir, size_t *seen);

#endif
