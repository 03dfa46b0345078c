/* creds.h — finding the API keys, in this order:
 *   1. -o credentials=FILE: the vendor's credential.json (a JSON array of
 *      {"public_key","private_key","profile"}) or a simple file of lines
 *      public_key=... / private_key=... (/ project_id=...), '#' comments;
 *   2. UCLOUD_PUBLIC_KEY + UCLOUD_PRIVATE_KEY;
 *   3. ~/.ucloud/credential.json (or UCLOUD_SHARED_CREDENTIAL_FILE) with
 *      the profile from -o profile=, UCLOUD_PROFILE, the config file's
 *      "active" entry, else "default".
 * A credentials file that group or others may read is refused ("chmod 600
 * FILE"), as is one owned by another non-root user. Keys are wiped from
 * memory on release and never printed. Not thread-safe (runs in main).
 */
#ifndef IMGTAGFS_CREDS_H
#define IMGTAGFS_CREDS_H

#include <stddef.h>

struct creds {
	char *public_key;
	char *private_key;
	char *project;		/* from the file or config, may be NULL */
	char *base_url;		/* from config.json, may be NULL */
	char origin[256];	/* where the keys came from, for messages */
};

struct creds_query {
	const char *file;	/* -o credentials=, or NULL */
	const char *profile;	/* -o profile=, or NULL */
	/* environment lookup; NULL = getenv (tests pass their own) */
	const char *(*getenv)(void *arg, const char *name);
	void *getenv_arg;
};

/* 0, or -ENOENT (no keys anywhere), -EACCES (file permissions), -EBADMSG
 * (unreadable file), -ENOMEM, each with a one-line message in err. */
int creds_load(const struct creds_query *q, struct creds *out, char *err, size_t errlen);
/* Wipes and frees. Safe on a zeroed struct. */
void creds_release(struct creds *c);

#endif
