/* names.c — which names may become file names, and which could ever be
 * registry names.
 *
 * Two questions with different callers. The valid_* checks guard the
 * kernel from the server, and are the one place a server's name is
 * judged: the decoder (decode.c), the listing builder (listing.c) and
 * the shared tier's decoder (sval.c) all ask names_valid_entry. A name
 * that is empty, "." or "..", or holds a '/' or a NUL cannot be a
 * directory entry, whatever the API says; one with a control character
 * could, but must not: a newline in a name makes `find` print a line
 * that is not a path under the mount (image "a\n/etc" with tag "passwd"
 * printed "/etc/passwd"), and a root script reading those lines would
 * act outside it; a C1 control (U+009B is CSI) sends a terminal an escape
 * sequence as ESC does; a bidirectional control (U+202E) makes a listing
 * show names reordered; bytes that are not UTF-8 are shown by each tool
 * its own way. What text.h would not show as it is is refused: Docker's
 * grammar allows none of it in a repository, image or tag name. Nor does
 * it allow '@', which the tree's aliases take (a tag x that shares its
 * name with a nested image directory x is shown as x@tag): a server's
 * "x@tag" would hide the tag x, or be reached through it. The
 * maybe_* checks guard the API from the kernel: shells, file managers
 * and git probe for ".git", ".hidden", "Thumbs.db~" and the like, and a
 * name that Docker's grammar rules out is answered ENOENT without a call.
 */
#include "names.h"

#include <string.h>

#include "text.h"

#define TAG_MAX 128 /* Docker: one leading character and up to 127 more */

bool names_valid_component(const char *s, size_t n)
{
	if (!s || n == 0 || n > NAMES_MAX)
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	/* NUL and every control are not printable; '/' and '@' are. */
	return !memchr(s, '/', n) && !memchr(s, '@', n) && text_printable(s, n);
}

/* n bytes of one or more valid components, separated by single '/'. */
static bool valid_image(const char *s, size_t n)
{
	if (!s || n == 0)
		return false;
	for (;;) {
		const char *slash = memchr(s, '/', n);
		size_t k = slash ? (size_t)(slash - s) : n;

		if (!names_valid_component(s, k))
			return false;
		if (!slash)
			return true;
		s += k + 1; /* past the '/'; an empty rest fails above */
		n -= k + 1;
	}
}

bool names_valid_image(const char *s)
{
	return s && valid_image(s, strlen(s));
}

bool names_valid_entry(bool image, const char *s, size_t n)
{
	return image ? valid_image(s, n) : names_valid_component(s, n);
}

static bool is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Length of the separator at s: '.', '_', "__" or a run of '-'; 0 if none. */
static size_t separator_len(const char *s)
{
	size_t n = 0;

	if (s[0] == '.')
		return 1;
	if (s[0] == '_')
		return s[1] == '_' ? 2 : 1;
	while (s[n] == '-')
		n++;
	return n;
}

bool names_maybe_component(const char *s)
{
	const char *start = s;

	if (!s)
		return false;
	for (;;) {
		size_t sep;

		if (!is_alnum(*s))
			return false; /* every run of alphanumerics is non-empty */
		while (is_alnum(*s))
			s++;
		if (!*s)
			return (size_t)(s - start) <= NAMES_MAX;
		sep = separator_len(s);
		if (!sep)
			return false;
		s += sep;
	}
}

static bool is_tag_char(char ch)
{
	return is_alnum(ch) || ch == '_' || ch == '.' || ch == '-';
}

bool names_maybe_tag(const char *s)
{
	size_t n = 0;

	if (!s || !(is_alnum(s[0]) || s[0] == '_'))
		return false;
	while (s[n] && is_tag_char(s[n]))
		if (++n > TAG_MAX)
			return false;
	return s[n] == '\0';
}
