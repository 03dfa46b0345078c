/* text.c — which characters of a server's text may be shown as they are
 * (text.h). A name, a digest or a time from the API, or a value from the
 * shared tier, reaches terminals (through `find`, `cat`, `ls`), scripts
 * reading lines, and the log; a byte that a terminal or a line reader
 * takes for a control must never pass unescaped. The rule is decided here
 * once, so the name check, the tag file's text and the log cannot
 * disagree about a byte.
 */
#include "text.h"

#include <stdint.h>

/* The code point of the valid UTF-8 sequence of len bytes at p (len and
 * the continuation bytes already checked), or 0 for a sequence that is
 * not the shortest form, a surrogate or past U+10FFFF. */
static uint32_t code_point(const unsigned char *p, size_t len)
{
	static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t c = p[0] & (0xff >> (len + 1));

	for (size_t i = 1; i < len; i++)
		c = c << 6 | (p[i] & 0x3f);
	if (c < least[len] || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return c;
}

/* C1 controls, Bidi_Control and the two separators: see text.h. */
static bool hidden_control(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069);
}

size_t text_char_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;
	uint32_t c;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return p[0] >= 0x20 && p[0] < 0x7f ? 1 : 0;
	len = p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : p[0] >= 0xe0 && p[0] < 0xf0 ? 3 : p[0] >= 0xf0 && p[0] < 0xf5 ? 4 : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	c = code_point(p, len);
	return c && !hidden_control(c) ? len : 0;
}

bool text_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = text_char_len(s + i, n - i);

		if (!k)
			return false;
		i += k;
	}
	return true;
}
