/* text.h — which characters of a server's text may be shown as they are.
 *
 * One definition for names (names.c: what may become a file name), the
 * texts of a tag file (listing.c, sval.c: a digest or time the server
 * gave) and log lines (log.c: everything written is escaped by it). Shown
 * as it is: printable ASCII (0x20..0x7e), and UTF-8 that is valid (the
 * shortest form, no surrogate, at most U+10FFFF) of a character that is
 * none of
 *   - a C1 control, U+0080..U+009F: a terminal may take U+009B for CSI,
 *     the start of an escape sequence, as it takes ESC [;
 *   - a bidirectional control (Unicode's Bidi_Control: U+061C, U+200E,
 *     U+200F, U+202A..U+202E, U+2066..U+2069), which reorders what a
 *     terminal or an editor shows (a name ending in U+202E "gpj.exe"
 *     reads as "exe.jpg");
 *   - a line or paragraph separator (U+2028, U+2029), which Unicode-aware
 *     tools take for a newline.
 * Everything else (C0 controls, DEL, any byte of a sequence that is not
 * such a character) must be escaped or refused.
 * Pure functions: thread-safe.
 */
#ifndef IMGTAGFS_TEXT_H
#define IMGTAGFS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The length (1 to 4) of the character at s (n > 0 bytes left) when it is
 * shown as it is, else 0. */
size_t text_char_len(const char *s, size_t n);
/* Every one of the n bytes of s belongs to a character shown as it is
 * (n == 0: true). */
bool text_printable(const char *s, size_t n);

#endif
