/* params.h — an ordered list of API parameters (name, value), owned strings.
 *
 * Used by the client to build a request and by the simulator to decode one:
 * form encoding and decoding follow UHUB-API.md (every byte outside
 * A-Z a-z 0-9 - _ . ~ is %XY; '+' decodes to a space in forms).
 * Duplicate names are allowed on add; params_set replaces.
 * Not thread-safe; a list has one owner.
 */
#ifndef IMGTAGFS_PARAMS_H
#define IMGTAGFS_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct params;

/* Empty list, NULL on -ENOMEM. params_free(NULL) is a no-op. */
struct params *params_new(void);
void params_free(struct params *p);

/* Appends a copy of name and value. 0 or -ENOMEM. */
int params_add(struct params *p, const char *name, const char *value);
/* Appends name = decimal value. 0 or -ENOMEM. */
int params_add_long(struct params *p, const char *name, long long value);
/* Replaces the first parameter called name, or appends. 0 or -ENOMEM. */
int params_set(struct params *p, const char *name, const char *value);
/* Removes every parameter called name. */
void params_del(struct params *p, const char *name);

size_t params_count(const struct params *p);
/* i < params_count(). The strings stay owned by p. */
const char *params_name(const struct params *p, size_t i);
const char *params_value(const struct params *p, size_t i);
/* Value of the first parameter called name, NULL when absent. */
const char *params_get(const struct params *p, const char *name);

/* Appends "a=1&b=2" with percent-encoding to out. 0, -EFBIG, -ENOMEM. */
int params_encode(const struct params *p, struct buf *out);
/* Percent-encodes s onto out (the UHub rules). 0, -EFBIG, -ENOMEM. */
int params_escape(struct buf *out, const char *s);
/* Parses an x-www-form-urlencoded or query string and appends its pairs.
 * 0, -EINVAL for a bad %XY or an embedded NUL, -ENOMEM. */
int params_decode(struct params *p, const char *s, size_t n);

#endif
