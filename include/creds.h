/* creds.h — finding the API keys, in this order:
 *   1. -o credentials=FILE: the vendor's credential.json (a JSON array of
 *      {"public_key","private_key","profile"}; the entry of -o profile=,
 *      else UCLOUD_PROFILE, else "default") or a simple file of lines
 *      public_key=... / private_key=... (/ project_id=...), '#' comments,
 *      blank lines, whitespace around keys and values and one pair of
 *      quotes around a value ignored. JSON when the first non-blank byte
 *      is '[' or '{';
 *   2. UCLOUD_PUBLIC_KEY + UCLOUD_PRIVATE_KEY (both or neither);
 *   3. ~/.ucloud/credential.json (or UCLOUD_SHARED_CREDENTIAL_FILE) with
 *      the profile from -o profile=, UCLOUD_PROFILE, the config file's
 *      "active" entry, else "default". The config file
 *      (~/.ucloud/config.json or UCLOUD_SHARED_CONFIG_FILE) is optional
 *      and read only for this source; it also gives project and base_url.
 * The first source present decides: a broken one is an error, not skipped.
 * Every file read (credentials and config) is first opened O_PATH without
 * following a link (which opens nothing: a FIFO or device at the path is
 * never opened for real) and checked on that descriptor: a regular file,
 * at most 64 KiB, owned by root or the caller (euid), with no group/other
 * mode bits (else refused: "... is readable by group or others (mode
 * 0644); run: chmod 600 FILE"). A symbolic link is followed one step, and
 * only if root or the caller owns the link; a link to a link is refused.
 * Every directory on the way to the file and to a link's target (links on
 * the way resolved as the kernel does) must be owned by root or the
 * caller and writable by nobody else, or sticky with the entry taken
 * from it owned by root or the caller (else -EACCES: "directory D is
 * writable by group or others (mode 0775): ...; run: chmod go-w D").
 * The checked inode is then opened for reading through /proc/self/fd
 * (no /proc: refused). Keys are wiped from memory on release and never
 * printed: no message quotes a file's contents. Not thread-safe (runs in
 * main).
 */
#ifndef IMGTAGFS_CREDS_H
#define IMGTAGFS_CREDS_H

#include <stddef.h>

struct creds {
	char *public_key;
	char *private_key;
	char *project;	  /* simple file's project_id or config.json's, may be NULL */
	char *base_url;	  /* from config.json, may be NULL */
	char origin[256]; /* where the keys came from, for messages: the
			     file (and profile), or "environment (...)" */
};

struct creds_query {
	const char *file;    /* -o credentials=, or NULL */
	const char *profile; /* -o profile=, or NULL */
	/* environment lookup; NULL = getenv (tests pass their own) */
	const char *(*getenv)(void *arg, const char *name);
	void *getenv_arg;
};

/* Fills out (which need not be initialised). 0, or -ENOENT (no keys
 * anywhere: the message lists where it looked; or a named file or profile
 * that does not exist), -EACCES (file permissions or owner), -EBADMSG
 * (unreadable, too big or malformed file), -EINVAL (only one of the two
 * environment variables set; a path too long), -ENOMEM, each with a
 * one-line message in err; on error out is released. q may be NULL (no
 * -o options, the process environment). */
int creds_load(const struct creds_query *q, struct creds *out, char *err, size_t errlen);
/* Wipes and frees. Safe on a zeroed struct. */
void creds_release(struct creds *c);
/* Wipes and frees the private key alone, once another owner holds the copy
 * it needs (main calls it after uhub_new): one copy in memory, not two. */
void creds_drop_private(struct creds *c);
/* Takes UCLOUD_PRIVATE_KEY and UCLOUD_PUBLIC_KEY out of the process
 * environment: each value's bytes are overwritten in place first (the
 * original strings are what /proc/PID/environ shows, whatever unsetenv
 * does to the environ array), then the variable is unset, so no child
 * (fusermount3 with auto_unmount lives as long as the mount) inherits it.
 * Call it once the keys are loaded, before any thread or child starts. */
void creds_forget_env(void);

/* Reads a small secret file (the shared tier's AUTH file and MAC key
 * file) under the rules above for the credentials file: regular, at most
 * 64 KiB, owned by root or the caller, no group/other bits, the one-step
 * link rule, opened through the checked descriptor. *out is its contents
 * and a NUL (*len bytes before it), to be given to creds_secret_free.
 * what names the option in messages ("shared_cache_auth"); no message
 * quotes the contents. 0 or -errno (as creds_load) with a one-line
 * message in err. */
int creds_read_secret(const char *what, const char *path, char **out, size_t *len, char *err, size_t errlen);
/* Wipes len bytes at s and frees it. NULL is a no-op. */
void creds_secret_free(char *s, size_t len);

#endif
