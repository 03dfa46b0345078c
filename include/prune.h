/* prune.h — deleting tags (and empty images) through the mount, when
 * -o allow_delete asks for it, without ever deleting what the user did not
 * see:
 *
 *	$ find /mnt/registry/ci/app -name 'build-*' ! -newermt '30 days ago' -delete
 *
 * An unlink of a tag file is one DeleteRepoImage with TagName, made only
 * when three things agree: what the kernel was last shown for the file
 * (prune_shown: its mtime, its ctime and the fingerprint of the bytes
 * they stood for, tree_fingerprint, so that even a re-push within the
 * same second that no ctime could show is told apart), what
 * the mount shows now (its digest and UpdateTime), and what the registry
 * answers now to a point query (GetImageTag with TagName). Anything else
 * is refused with EBUSY and no deletion: a tag re-pushed after `find`
 * listed it survives `-delete`. (Not ESTALE: the kernel answers ESTALE
 * from unlink by looking the name up again and retrying, which would show
 * it the new bytes and delete them.) What remains is the window between
 * the point query and the deletion: a push in that round trip is lost.
 *
 * A deletion whose outcome is unknown (a timeout, a cut reply, an HTTP
 * 5xx) is never sent again blindly: the registry is asked first; a tag
 * gone is a deletion done, a tag with other bytes is refused, the same
 * tag is deleted again, up to retries times.
 *
 * rmdir of an image succeeds only when it lists nothing (ENOTEMPTY, with
 * no call, otherwise) and the registry, asked afresh, has no tag for it:
 * then one DeleteRepoImage without TagName. A prefix directory (no image
 * of its own) is ENOTEMPTY; a repository is EPERM, always.
 *
 * Only the mount's owner and root may delete (EACCES otherwise, with no
 * call, also on an allow_other mount). Every deletion, done, refused or
 * failed, is one log line with the uid, the pid, repo/image:tag and the
 * digest. A deletion done drops the tag from the cache at once, which
 * tells the kernel and the fleet (tree_deleted).
 * Thread-safe: one mutex (a leaf) guards what the kernel was shown.
 */
#ifndef IMGTAGFS_PRUNE_H
#define IMGTAGFS_PRUNE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct log;
struct tree;
struct uhub;

struct prune_config {
	uid_t owner;	  /* who may delete, besides root */
	unsigned retries; /* checks and deletions again after an unsure failure */
	/* Records of what was shown kept after the kernel forgot the inode,
	 * at most (0: 262,144; their table then takes about 20 MiB): past it the
	 * oldest half go, and
	 * those names count as never shown. */
	size_t keep_gone;
};

/* Who asks (the FUSE request's context). */
struct prune_who {
	uid_t uid;
	pid_t pid;
};

struct prune_stats {
	uint64_t done, refused, failed;
	uint64_t running; /* unlinks and rmdirs in progress (also those whose
			   * caller the deadline answered: they go on) */
	size_t shown;	  /* tag files the kernel holds whose shown attributes are kept */
	size_t kept;	  /* the same kept after the kernel forgot them */
};

/* Borrows t, u and log (may be NULL). NULL on -ENOMEM. prune_free(NULL)
 * is a no-op. */
struct prune *prune_new(const struct prune_config *cfg, struct tree *t, struct uhub *u, struct log *log);
void prune_free(struct prune *p);

/* The user was shown st for inode ino: a listing (a READDIRPLUS reply)
 * or the file's bytes (a READ). For a tag file its mtime, ctime and
 * fingerprint are kept until prune_forgotten(ino). Directories are
 * ignored. Never fails: without memory the inode is simply not known, and
 * its unlink refused. Kept past prune_forgotten, within
 * prune_config.keep_gone. */
void prune_shown(struct prune *p, uint64_t ino, const struct stat *st);
/* The same for a LOOKUP or GETATTR reply, which is no look by the user:
 * `rm NAME` makes both itself (its path walk, when the kernel's entry
 * expired, and its own lstat) just before the UNLINK, as `find -delete`
 * does for a name whose listing it read long before. A first showing is
 * recorded (a name never listed); for an inode already shown with other
 * attributes the record is kept, marked contradicted, and false
 * returned: the reply then carries attr_timeout 0, and the unlink is
 * refused (EBUSY) until a listing or a read records the file again. (The
 * lookup's attributes may be the newer, rm's own walk after a re-push, or
 * the older, a stat that read the tree before a listing recorded newer
 * ones: either way the deleting process may not have seen the record's.)
 * Only for a reply that is sent. */
bool prune_looked_up(struct prune *p, uint64_t ino, const struct stat *st);
/* The kernel forgot ino: its record is kept (see keep_gone), for the
 * user may still act on what was listed. */
void prune_forgotten(struct prune *p, uint64_t ino);

/* Deletes the tag file at path, inode ino (as above). 0, -EACCES (not
 * the owner or root), -EBUSY (refused: not what was shown), -ENOENT,
 * -EISDIR, or the API's -errno (the tag then stays). */
int prune_unlink(struct prune *p, const struct prune_who *who, uint64_t ino, const char *path);
/* Deletes the image directory at path. 0, -EACCES, -EPERM (a
 * repository), -ENOTEMPTY, -EBUSY (the registry has tags the mount did
 * not show), -ENOTDIR, -ENOENT, or the API's -errno. */
int prune_rmdir(struct prune *p, const struct prune_who *who, const char *path);

void prune_get_stats(struct prune *p, struct prune_stats *out);

#endif
