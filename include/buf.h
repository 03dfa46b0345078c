/* buf.h — growable byte buffer with a hard cap (after git's strbuf, curl's dynbuf).
 *
 * A struct buf is a plain value: embed it, buf_init() it, buf_release() it.
 * data is always NUL-terminated (when non-NULL) so text can be used as a C
 * string; len does not count the NUL. Every append fails with -EFBIG rather
 * than grow past max, so nothing filled from the network is unbounded.
 * Not thread-safe: one owner at a time.
 */
#ifndef IMGTAGFS_BUF_H
#define IMGTAGFS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes used, without the terminating NUL */
	size_t alloc; /* bytes allocated */
	size_t max;   /* hard cap on len */
};

/* Empty buffer that may grow to max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/* Frees the storage; b is left empty (as after buf_init with the same max). */
void buf_release(struct buf *b);
/* Forgets the contents but keeps the storage. */
void buf_reset(struct buf *b);
/* Cuts b back to its first len bytes (no-op when it holds no more). */
void buf_truncate(struct buf *b, size_t len);
/* Appends n bytes. 0, -EFBIG past max, -ENOMEM. On error b is unchanged. */
int buf_add(struct buf *b, const void *p, size_t n);
/* Appends a C string. Same returns as buf_add. */
int buf_adds(struct buf *b, const char *s);
/* Appends formatted text. Same returns as buf_add. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the storage to the caller (free() it); b is left empty. Returns
 * an empty malloc'd string for an empty buffer, NULL on -ENOMEM. */
char *buf_take(struct buf *b);

#endif
