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

#endif
