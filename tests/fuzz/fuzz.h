/* fuzz.h — what the libFuzzer harnesses share: the entry points'
 * prototypes, an invariant check, and input slicing helpers.
 *
 * A broken invariant prints the condition and aborts, so libFuzzer saves
 * the input as a crash artifact exactly as it does for a sanitizer report.
 * (Harnesses are test programs: abort is the point here, never in src/.)
 */
#ifndef IMGTAGFS_FUZZ_H
#define IMGTAGFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                                               \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                   \
			abort();                                                                                       \
		}                                                                                                      \
	} while (0)

/* n bytes copied into an allocation of exactly n bytes (no NUL), so ASan
 * catches a read past the length the callee was given. NULL for n == 0. */
static inline char *fuzz_bytes(const uint8_t *p, size_t n)
{
	char *s = n ? malloc(n) : NULL;

	if (s)
		memcpy(s, p, n);
	return s;
}

/* n bytes as a C string (stops at the first NUL, if any). Never NULL:
 * an allocation failure in a harness is not the code under test's. */
static inline char *fuzz_string(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	FUZZ_CHECK(s != NULL);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* A plain reference for text.h: s (n bytes) decodes as UTF-8 into code
 * points each of which is printable ASCII, or at least U+00A0 and no
 * surrogate, none of U+061C, U+200E, U+200F, U+2028..U+202E,
 * U+2066..U+2069, and each in its shortest encoding, at most U+10FFFF. */
static inline int fuzz_ref_printable(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned long c = p[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		static const unsigned long least[] = {0, 0, 0x80, 0x800, 0x10000};

		if (!len || i + len > n)
			return 0;
		if (len > 1)
			c &= 0x7fu >> len;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if (c < least[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x61c || c == 0x200e || c == 0x200f ||
		    (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
			return 0;
		i += len;
	}
	return 1;
}

#endif
