/* names.h — which names may be shown as files, and which could ever be
 * registry names.
 *
 * Names from the server are untrusted: anything that cannot be a file name
 * is refused (and the caller skips it with a warning). Names from the
 * kernel that can never be registry names (".git", ".hidden", over-long)
 * are answered ENOENT without asking the API. Pure functions.
 */
#ifndef IMGTAGFS_NAMES_H
#define IMGTAGFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAMES_MAX 255	/* bytes in one path component */

/* Non-empty, not "." or "..", <= 255 bytes, and no '/', NUL or other
 * control byte (below 0x20, or 0x7f: a newline, tab or escape in a name
 * would forge lines in what lists the mount) among its n bytes. */
bool names_valid_component(const char *s, size_t n);
/* A C string made of one or more valid components separated by single
 * '/' (no leading, trailing or doubled '/'): an image name. Every
 * component is judged, so "a\n/etc" is refused. */
bool names_valid_image(const char *s);
/* Could be a registry repository or image path component by Docker's
 * grammar [a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)* (case-insensitive here,
 * since servers are lax). */
bool names_maybe_component(const char *s);
/* Could be a tag by Docker's grammar [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool names_maybe_tag(const char *s);

#endif
