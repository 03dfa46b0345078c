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

#define NAMES_MAX 255 /* bytes in one path component */

/* Non-empty, not "." or "..", <= 255 bytes, no '/' and no '@' (which the
 * tree's NAME@tag aliases take; Docker's grammar allows it in no name),
 * and every one of its
 * n bytes part of a character text.h shows as it is: no NUL, no control
 * (a newline, tab or escape in a name would forge lines in what lists the
 * mount; C1 controls, U+009B CSI among them, act on terminals as ESC
 * does), no bidirectional control (U+202E would show names reordered),
 * nothing that is not UTF-8. */
bool names_valid_component(const char *s, size_t n);
/* A C string made of one or more valid components separated by single
 * '/' (no leading, trailing or doubled '/'): an image name. Every
 * component is judged, so "a\n/etc" is refused. */
bool names_valid_image(const char *s);
/* A name of a listing's entry, n bytes: an image name (names_valid_image)
 * when image, else one component. What the decoder, the listing builder
 * and the shared tier's decoder all ask of a name from a server. */
bool names_valid_entry(bool image, const char *s, size_t n);
/* Could be a registry repository or image path component by Docker's
 * grammar [a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)* (case-insensitive here,
 * since servers are lax). */
bool names_maybe_component(const char *s);
/* Could be a tag by Docker's grammar [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool names_maybe_tag(const char *s);

#endif
