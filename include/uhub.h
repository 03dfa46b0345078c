/* uhub.h — the UHub API as imgtagfs uses it: GetRepo, GetRepoImage,
 * GetImageTag, and DeleteRepoImage when deletion is on; whole listings fetched as one de-duplicated snapshot with
 * parallel paging; retries with backoff; RetCode -> errno.
 *
 * Requests go through a struct uhub_transport, so tests can replace the
 * network. Every request is signed (sign.h); debug logging prints the
 * action, the parameters without PublicKey/Signature, RetCode and time.
 * Thread-safe: many threads may call at once; at most max_requests calls
 * are in flight across all of them.
 */
#ifndef IMGTAGFS_UHUB_H
#define IMGTAGFS_UHUB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "log.h"

/* The network seam: post one form body for action. Same contract as
 * http_post (0 when any HTTP response arrived, else -errno). cancel may be
 * NULL; else uhub_cancel calls it once, from any thread: every post in
 * flight or later must then end soon with -ECANCELED (http_cancel). */
struct uhub_transport {
	int (*post)(void *self, const char *action, const char *body, size_t len, struct http_reply *reply);
	void (*cancel)(void *self);
	void *self;
};

/* The transport over a struct http (self is the struct http *). */
int uhub_http_post(void *self, const char *action, const char *body, size_t len, struct http_reply *reply);
void uhub_http_cancel(void *self);

struct uhub_config {
	const char *public_key;
	const char *private_key;
	const char *project;	  /* NULL: the key's default project */
	const char *repo_type;	  /* GetRepo Type: "private" or "public" */
	unsigned page_size;	  /* Limit asked for (1..10000) */
	unsigned max_requests;	  /* calls in flight at once (1..64) */
	unsigned retries;	  /* extra attempts for a transient failure */
	long backoff_ms;	  /* first backoff; doubles, with jitter */
	long backoff_max_ms;	  /* cap on one backoff */
	size_t max_entries;	  /* cap on one listing's entries (0: 1,000,000) */
	size_t max_listing_bytes; /* cap on the memory one listing's entries
				     hold while it is fetched (0: 256 MiB) */
	size_t max_reply;	  /* cap on one reply body; smaller for small
				     page sizes (uhub.c, reply_cap) */
	unsigned max_rps;	  /* requests a second across threads, 0 = no limit */
};

/* UHUB_DELETE is DeleteRepoImage: no listing, only its calls counted. */
enum uhub_kind { UHUB_REPOS, UHUB_IMAGES, UHUB_TAGS, UHUB_DELETE };

struct uhub_entry {
	char *name;
	char *time;   /* UpdateTime text, NULL when absent */
	char *digest; /* tags only, NULL when absent */
};

struct uhub_list {
	struct uhub_entry *v; /* sorted by name, names unique */
	size_t n;
	/* The list moved while it was paged and could not be verified
	 * within the call budget: every name seen is here, but a name
	 * missing is no proof it does not exist (pages.h). */
	bool unsure;
};

#define UHUB_STATS_RETCODES 16

struct uhub_stats {
	uint64_t calls[4]; /* by kind: GetRepo, GetRepoImage, GetImageTag, DeleteRepoImage */
	uint64_t retries;
	uint64_t errors;       /* calls that failed for good */
	uint64_t last_retcode; /* most recent non-zero RetCode */
	struct {
		long code;
		uint64_t count;
	} retcodes[UHUB_STATS_RETCODES]; /* non-zero RetCodes seen, by code */
	size_t nretcodes;		 /* (the first 16 distinct codes) */
};

/* The API action name of a kind ("GetRepo", ...). */
const char *uhub_action(enum uhub_kind k);

/* Copies cfg's strings. NULL on -ENOMEM. uhub_free(NULL) is a no-op. */
struct uhub *uhub_new(const struct uhub_config *cfg, const struct uhub_transport *tr, struct log *log);
void uhub_free(struct uhub *u);

/* Fetches a whole listing: repos (repo, image NULL), a repo's images
 * (image NULL) or an image's tags. The first page gives TotalCount and
 * the page size the server applies; the remaining pages are fetched in
 * parallel, correct whatever cap the server applies to Limit. A name seen
 * twice keeps its newest copy (latest UpdateTime; on a tie, the page that
 * came last). Bounded: every page's TotalCount is capped at max_entries,
 * the entries at max_entries and their bytes at max_listing_bytes (EFBIG),
 * the calls at 2 x ceil(TotalCount / first page size) + 10 page requests,
 * each with its retries (EIO); each such failure is logged in one line.
 * 0 or -errno (ENOENT when the repo/image does not exist, EACCES for auth
 * errors, EIO, ETIMEDOUT, EFBIG, ECANCELED after uhub_cancel, ...). */
int uhub_list(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, struct uhub_list *out);
void uhub_list_release(struct uhub_list *l);
/* The same at background priority while *bg is true: its requests leave
 * one of the max_requests slots free, and wait while a foreground request
 * waits, so prefetching never delays what a user is waiting for. Storing
 * false in *bg (any thread, while the call runs) raises it to the
 * foreground: for when a user comes to wait for this very listing. Each
 * page answered adds one to *progress (may be NULL): how a caller tells a
 * slow listing from a hung API. */
int uhub_list_bg(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, const atomic_bool *bg,
		 _Atomic uint64_t *progress, struct uhub_list *out);

/* One tag by name (GetImageTag with TagName). 0, -ENOENT, or -errno. */
int uhub_get_tag(struct uhub *u, const char *repo, const char *image, const char *tag, struct uhub_entry *out);
void uhub_entry_release(struct uhub_entry *e);

/* One DeleteRepoImage: tag tag of repo/image, or (tag NULL) the image
 * with every tag it has. Never retried blindly: it is sent again only
 * after an answer that says it was not carried out (HTTP 429, RetCode
 * 153 throttled, a connection refused or a host unreachable before
 * anything was sent), with backoff, up to retries times. Any other
 * failure returns at once; *unsure (never NULL) then says whether the
 * deletion may still have happened (a timeout, a cut or unreadable
 * reply, an HTTP 5xx, a transient RetCode): only a fresh look at the
 * registry can tell (prune.h). 0 or -errno (ENOENT for RetCode 230: the
 * tag or image is not there; EACCES, ETIMEDOUT, EIO, ECANCELED, ...). */
int uhub_delete(struct uhub *u, const char *repo, const char *image, const char *tag, bool *unsure);

/* One signed GetRepo call with Limit=1: the mount-time check. On failure
 * writes a one-line reason (RetCode and the server's Message, or the
 * transport's error) to why. 0 or -errno. */
int uhub_probe(struct uhub *u, char *why, size_t whylen);

/* Maps a RetCode to -errno (0 for 0), after the RetCode table of
 * the UHub API reference: 110 ETIMEDOUT; 170-174 and 292-299 EACCES
 * (keys, project, IP, lock, IAM); 230 ENOENT when lookup says a name was
 * being looked up, else EIO; everything else EIO. The only such map. */
int uhub_retcode_errno(long retcode, bool lookup);
/* True for RetCodes worth retrying (110, 130, 150, 153, >= 2000). */
bool uhub_retcode_transient(long retcode);

void uhub_get_stats(struct uhub *u, struct uhub_stats *out);

/* Stops u for good, for unmount: every call in flight or made later
 * returns -ECANCELED soon (within ~100 ms): listings stop between pages,
 * retries between attempts, backoff and max_rps sleeps wake at once, and
 * the transport's cancel (http_cancel) aborts transfers in flight.
 * Thread-safe, idempotent, async with respect to other calls (not to
 * uhub_free, which must come after every call has returned). NULL is a
 * no-op. */
void uhub_cancel(struct uhub *u);

#endif
